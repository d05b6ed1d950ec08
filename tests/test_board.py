"""The Posts page's view model, built from hand-made posts of the store, records and accounts with an injected now.

Every post is made the way the store makes it (its state and group from :func:`tiktok.store.base.lifecycle`), so
these tests also pin that a card always lands in the group the store pages it in (a card that did not would jump
between groups, or vanish between pages).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tiktok.auth.tokens import Account
from tiktok.posting.importer import request_of
from tiktok.store.base import Post, lifecycle
from tiktok.store.records import PostRecord, entry_key
from tiktok.text import moment
from tiktok.web.board import PAGE_SIZE, build_board, post_card

NOW = 1_796_000_000.0  # 2026-11-30 00:53:20 UTC
GRACE = 3600
EMULATOR = "http://127.0.0.1:8001"
ADA = "ada-open-id"
ACCOUNTS = {ADA: Account(open_id=ADA, access_token="a", refresh_token="r", expires_at=NOW + 86400,
                         refresh_expires_at=NOW + 86400 * 300, display_name="Ada Creates", username="ada.creates",
                         avatar_url="https://p16.example/ada.jpg")}
PLAN = {"video_size": 30_000_000, "chunk_size": 10_000_000, "total_chunk_count": 3}


def at(seconds_from_now: float) -> str:
    """A post_at text with an offset, ``seconds_from_now`` after NOW."""
    return datetime.fromtimestamp(NOW + seconds_from_now, timezone(timedelta(hours=1))).isoformat()


def video(n: int = 0, **fields: Any) -> dict[str, Any]:
    return {"user_id": ADA, "video_path": f"/media/clip{n}.mp4", "description": "Bread",
            "tags": ["baking"], "privacy": "SELF_ONLY", **fields}


def post(entry: dict[str, Any] | None, record: PostRecord | None = None, *, id: int = 1, ended: str | None = None,
         updated_at: float = NOW, media_name: str | None = None, origin: str = "app", user_id: str = ADA) -> Post:
    """A post as the store holds it: state and group from its record, due at its entry's post_at."""
    life = lifecycle(record, ended)
    request = request_of(entry, source="test", allow_loopback=True)[0] if entry is not None else None
    return Post(id=id, key=entry_key(entry) if entry else f"key{id}", user_id=entry["user_id"] if entry else user_id,
                entry=entry, origin=origin, state=life.state, board=life.board, revision=3, change=id,
                created_at=NOW - 600, updated_at=updated_at, record=record, media_name=media_name,
                due_at=request.due_at if request else None, open=life.open)


def record(p: Post, state: str, **fields: Any) -> PostRecord:
    return PostRecord(key=p.key, user_id=p.user_id, state=state, **fields)


def with_record(entry: dict[str, Any], state: str, **fields: Any) -> Post:
    bare = post(entry)
    return post(entry, record(bare, state, **fields))


def card(p: Post, *, emulated: bool = False, now: float = NOW):
    request, problems = request_of(p.entry, source=p.label, allow_loopback=True) if p.entry else (None, [])
    return post_card(p, request, ACCOUNTS, now=now, grace_s=GRACE, emulated=emulated, emulator_base=EMULATOR,
                     problem="; ".join(problem.message for problem in problems), tz=timezone.utc)


def store_group(p: Post, now: float = NOW) -> str:
    """The group the store pages ``p`` in (tiktok/store/sql.py: a queued post beyond its grace is missed)."""
    if p.board == "upcoming" and p.state == "queued" and p.due_at is not None and p.due_at < now - GRACE:
        return "failed"
    return p.board


@pytest.mark.parametrize("offset, state, group, relative_text", [
    (300, "scheduled", "upcoming", "in 5 min"),
    (-60, "due", "upcoming", "1 min ago"),
    (-3 * 3600, "missed", "failed", "3 h ago"),
])
def test_a_post_not_started_follows_its_schedule(offset, state, group, relative_text):
    p = post(video(post_at=at(offset)))
    c = card(p)
    assert (c.state, c.group) == (state, group) == (state, store_group(p))
    assert c.schedule.relative == relative_text and c.schedule.due_at == NOW + offset
    assert c.schedule.fallback == moment(NOW + offset, timezone.utc) and c.schedule.fallback.endswith(" UTC")
    assert c.schedule.iso == datetime.fromtimestamp(NOW + offset, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert c.actions == ("edit", "reschedule", "cancel")
    assert (c.id, c.revision, c.origin) == (1, 3, "app")
    assert c.who.handle == "@ada.creates" and c.who.avatar_url.endswith("ada.jpg")
    assert c.caption == "Bread #baking" and c.media == "clip0.mp4" and c.kind == "video"
    if state == "missed":
        assert "new time" in c.detail and "cancel it" in c.detail


def test_the_card_names_the_file_as_the_person_chose_it():
    p = post(video(), media_name="Holiday 2026 (final).mp4")
    assert card(p).media == "Holiday 2026 (final).mp4"


def test_a_post_without_post_at_is_due_and_keeps_the_page_looking():
    b = build_board({"upcoming": [card(post(video()))]}, {"upcoming": 1}, emulated=False, change=1, next_due_at=None)
    (c,) = b.cards
    assert c.state == "due" and c.schedule is None and b.moving and "next run" in c.detail


def test_uploading_shows_bytes_sent_of_the_total():
    p = with_record(video(), "uploading", publish_id="p1", plan=PLAN, next_chunk=1)
    c = card(p)
    assert (c.state, c.group, c.progress) == ("uploading", "in_progress", (10_000_000, 30_000_000))
    assert c.detail == "10 MB of 30 MB sent" and c.actions == () and c.moving and c.group == store_group(p)


def test_processing_and_an_init_awaiting_its_answer_are_in_progress():
    processing = with_record(video(0), "processing", publish_id="p1")
    starting = with_record(video(1), "pending_init")
    cards = [card(processing), card(starting)]
    assert [(c.state, c.group) for c in cards] == [("processing", "in_progress"), ("uploading", "in_progress")]
    assert all(c.moving and c.actions == () for c in cards)
    assert [store_group(processing), store_group(starting)] == ["in_progress", "in_progress"]


def test_a_real_post_links_to_tiktok_and_an_emulated_one_to_the_emulator():
    entry = video(privacy="PUBLIC_TO_EVERYONE")
    done = with_record(entry, "posted", publish_id="p1", post_ids=(7300000000000000001,), username="ada.creates",
                       privacy="PUBLIC_TO_EVERYONE")
    real = card(done)
    assert real.state == "posted" and real.link.url == "https://www.tiktok.com/@ada.creates/video/7300000000000000001"
    assert real.link.text == "View on TikTok" and not real.emulated and real.actions == ()
    fake = card(done, emulated=True)
    assert fake.link.url == f"{EMULATOR}/@ada.creates/video/7300000000000000001"
    assert "tiktok.com" not in fake.link.url and fake.link.text == "View on the emulator" and fake.emulated
    assert not real.moving and real.group == store_group(done) == "done"


def test_public_without_an_id_is_under_review_and_keeps_the_page_looking():
    entry = video(privacy="PUBLIC_TO_EVERYONE")
    p = with_record(entry, "posted", publish_id="p1", privacy="PUBLIC_TO_EVERYONE", published_at=NOW)
    c = card(p)
    assert (c.state, c.label, c.group, c.link) == ("under_review", "Under review", "done", None)
    assert c.moving and store_group(p) == "done"
    later = card(p, now=NOW + 25 * 3600)  # TikTok never released it: followed for 24 h, then said so
    assert later.state == "posted" and "never released a public link" in later.detail and not later.moving


def test_a_private_post_without_an_id_is_posted_with_no_link():
    c = card(with_record(video(), "posted", publish_id="p1", privacy="SELF_ONLY"))
    assert c.state == "posted" and c.link is None and "not public" in c.detail


def test_inbox_draft():
    c = card(with_record({"user_id": ADA, "video_path": "/media/clip.mp4", "draft": True}, "inbox", publish_id="p1"))
    assert (c.state, c.label, c.kind, c.group) == ("inbox", "In inbox", "draft", "done")


def test_failed_shows_the_reason_in_plain_words_tiktoks_code_apart_and_offers_retry_edit_and_cancel():
    p = with_record(video(), "failed", publish_id="p1", fail_reason="spam_risk_too_many_posts",
                    error="TikTok failed the post: spam_risk_too_many_posts", log_id="202612030900ABCDEF",
                    outcome="failed", host="cron-box", pid=4242)
    c = card(p)
    assert (c.state, c.group, c.actions) == ("failed", "failed", ("retry", "edit", "cancel"))
    assert c.detail == "the account reached TikTok's daily limit of posts made through apps: it can post again " \
                       "tomorrow"
    assert c.details == "TikTok failed the post: spam_risk_too_many_posts (log_id 202612030900ABCDEF)"
    assert c.host == "cron-box"  # the machine whose run met it
    assert c.log_id == "202612030900ABCDEF" and store_group(p) == "failed" and not c.moving


def test_a_failure_the_next_run_retries_says_so():
    c = card(with_record(video(), "failed", error="TikTok is rate limiting this account", outcome="try_later"))
    assert c.state == "failed" and c.detail.endswith("; the next run tries again")


def test_an_init_whose_answer_was_lost_is_failed_and_only_retried():
    p = with_record(video(), "pending_init", outcome="try_later", error="the run stopped before TikTok answered")
    c = card(p)
    assert (c.state, c.group, c.actions) == ("failed", "failed", ("retry",))  # it may be on TikTok already
    assert store_group(p) == "failed" and "TikTok answered" in c.detail


def test_a_requested_retry_is_due_again_with_no_second_button():
    p = with_record(video(), "failed", outcome="failed", retry_requested=True)
    c = card(p)
    assert (c.state, c.actions, c.group) == ("due", (), "upcoming") and "retry requested" in c.detail
    assert store_group(p) == "upcoming" and c.moving


def test_relink_outcome_needs_relink():
    p = with_record(video(), "failed", outcome="relink", error="the refresh token was revoked")
    c = card(p)
    assert (c.state, c.label, c.group) == ("relink", "Needs relink", "failed") and "retry" in c.actions
    assert c.detail == "the refresh token was revoked" and store_group(p) == "failed"


def test_history_from_an_earlier_version_shows_how_it_ended_and_offers_nothing():
    posted = post(None, PostRecord(key="old", user_id=ADA, state="posted", post_ids=(7,), username="ada.creates"),
                  origin="earlier")
    failed = post(None, PostRecord(key="old2", user_id=ADA, state="failed", outcome="failed"), id=2,
                  origin="earlier")
    assert (card(posted).state, card(posted).actions) == ("posted", ())
    assert "earlier version" in card(posted).detail and card(posted).origin == "earlier"
    assert (card(failed).state, card(failed).actions) == ("failed", ())


def test_a_stored_entry_the_rules_no_longer_accept_is_invalid_and_can_only_be_cancelled():
    p = post({"user_id": ADA, "video_path": "/media/clip.mp4", "privacy": "EVERYONE"})
    c = card(p)
    assert (c.state, c.group, c.actions) == ("invalid", "failed", ("cancel",))
    assert 'field "privacy"' in c.detail and "post 1" in c.detail


def test_photos_and_urls_are_labelled_by_what_they_are():
    photos = post({"user_id": "someone-else", "photo_urls": ["https://a.example/1.jpg", "https://a.example/2.jpg"],
                   "privacy": "SELF_ONLY"})
    pulled = post({"user_id": ADA, "video_url": "https://cdn.example/v.mp4", "privacy": "SELF_ONLY"}, id=2)
    first, second = card(photos), card(pulled)
    assert (first.kind, first.media) == ("photo", "2 photos")
    assert not first.who.connected and first.who.handle == "someone-else"
    assert second.media == "https://cdn.example/v.mp4"


def test_an_emulated_post_seen_by_an_app_talking_to_tiktok_gets_no_link():
    p = with_record(video(), "posted", post_ids=(7,), username="ada.creates", emulated=True)
    c = card(p, emulated=False)
    assert c.state == "posted" and c.emulated and c.link is None


def test_groups_come_in_page_order_and_each_keeps_the_stores_order():
    soon, later, undated = (post(video(n, **({"post_at": at(s)} if s else {})), id=n + 1)
                            for n, s in ((0, 600), (1, 7200), (2, None)))
    done = [with_record(video(10 + n), "posted", publish_id=f"p{n}") for n in range(3)]
    done = [post(d.entry, d.record, id=10 + n, updated_at=NOW - 60 * n) for n, d in enumerate(done)]
    tied = post(video(20), record(post(video(20)), "posted"), id=20, updated_at=NOW)  # as new as the newest
    b = build_board({"upcoming": [card(later), card(soon), card(undated)],
                     "done": [card(d) for d in (done[2], done[0], tied, done[1])]},
                    {"upcoming": 3, "done": 4}, emulated=False, change=9, next_due_at=NOW + 600)
    assert [g.name for g in b.groups] == ["failed", "in_progress", "upcoming", "done"]
    groups = {g.name: [c.id for c in g.cards] for g in b.groups}
    assert groups == {"failed": [], "in_progress": [], "upcoming": [3, 1, 2], "done": [20, 10, 11, 12]}
    assert b.card(20).sort_key == b.card(10).sort_key  # equal times: the later id first, as the store pages them
    assert b.next_due_at == NOW + 600 and b.change == 9 and not b.empty


def test_a_group_says_how_many_cards_follow_on_later_pages():
    b = build_board({"done": []}, {"done": 2 * PAGE_SIZE + 5}, page=2, emulated=False, change=1, next_due_at=None)
    done = b.groups[-1]
    assert (done.total, done.page, done.more, done.remaining) == (45, 2, True, 5)
    last = build_board({}, {"done": 45}, page=3, emulated=False, change=1, next_due_at=None).groups[-1]
    assert (last.more, last.remaining) == (False, 0)
    assert build_board({}, {}, emulated=False, change=0, next_due_at=None).empty


def test_the_board_keeps_looking_while_the_store_has_something_moving_off_this_page():
    quiet = card(post(video(post_at=at(600))))
    assert not build_board({"upcoming": [quiet]}, {}, emulated=False, change=1, next_due_at=None).moving
    assert build_board({"upcoming": [quiet]}, {}, emulated=False, change=1, next_due_at=None, busy=True).moving


def test_the_json_of_a_card_is_what_posts_js_and_the_tests_read():
    p = with_record(video(), "uploading", publish_id="p1", plan=PLAN, next_chunk=2)
    assert card(p, emulated=True).to_json() == {
        "id": 1, "revision": 3, "state": "uploading", "label": "Uploading", "detail": "20 MB of 30 MB sent",
        "group": "in_progress", "link": None, "emulated": True, "actions": [], "progress": [20_000_000, 30_000_000]}
