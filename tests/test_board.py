"""The Posts page's view model, built from hand-made entries, records and accounts with an injected now."""

from __future__ import annotations

import dataclasses
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from tiktok.auth.tokens import Account
from tiktok.posting.manifest import ManifestProblem, ManifestResult, PostRequest
from tiktok.posting.results import PostRecord, entry_key
from tiktok.web.board import build_board, local_time, relative

NOW = 1_796_000_000.0  # 2026-11-30 00:53:20 UTC
GRACE = 3600
EMULATOR = "http://127.0.0.1:8001"
ADA = "ada-open-id"
ACCOUNTS = {ADA: Account(open_id=ADA, access_token="a", refresh_token="r", expires_at=NOW + 86400,
                         refresh_expires_at=NOW + 86400 * 300, display_name="Ada Creates", username="ada.creates",
                         avatar_url="https://p16.example/ada.jpg")}


def at(seconds_from_now: float) -> str:
    """A post_at text with an offset, ``seconds_from_now`` after NOW."""
    from datetime import datetime
    zone = timezone(timedelta(hours=1))
    return datetime.fromtimestamp(NOW + seconds_from_now, zone).isoformat()


def video(index: int = 0, **kw) -> PostRequest:
    return PostRequest(index=index, user_id=ADA, video_path=Path(f"/media/clip{index}.mp4"), description="Bread",
                   tags=("baking",), **kw)


def record(entry: PostRequest, state: str, **kw) -> PostRecord:
    return PostRecord(key=entry_key(entry), index=entry.index, user_id=entry.user_id, state=state, **kw)


def board(entries, records=(), *, problems=(), emulated=False):
    manifest = ManifestResult(entries=list(entries), problems=list(problems))
    return build_board(manifest, {r.key: r for r in records}, ACCOUNTS, now=NOW, grace_s=GRACE, emulated=emulated,
                       emulator_base=EMULATOR, tz=timezone.utc)


def only(b):
    (card,) = b.cards
    return card


@pytest.mark.parametrize("offset, state, group, relative_text", [
    (300, "scheduled", "upcoming", "in 5 min"),
    (-60, "due", "upcoming", "1 min ago"),
    (-3 * 3600, "missed", "failed", "3 h ago"),
])
def test_an_entry_not_started_follows_its_schedule(offset, state, group, relative_text):
    entry = video(post_at=at(offset))
    card = only(board([entry]))
    assert (card.state, card.group) == (state, group)
    assert card.schedule.relative == relative_text and card.schedule.given == entry.post_at
    assert card.schedule.local == local_time(NOW + offset, timezone.utc) and "(UTC+00:00)" in card.schedule.local
    assert card.actions == ("edit", "reschedule", "cancel")
    assert card.key == entry_key(entry) and card.number == 1
    assert card.who.handle == "@ada.creates" and card.who.avatar_url.endswith("ada.jpg")
    assert card.caption == "Bread #baking" and card.media == "clip0.mp4" and card.kind == "video"
    if state == "missed":
        assert "--force" in card.detail and "new time" in card.detail


def test_an_entry_without_post_at_is_due_and_moving():
    b = board([video()])
    assert only(b).state == "due" and only(b).schedule is None and b.moving


def test_uploading_shows_bytes_sent_of_the_total():
    entry = video()
    plan = {"video_size": 30_000_000, "chunk_size": 10_000_000, "total_chunk_count": 3}
    card = only(board([entry], [record(entry, "uploading", publish_id="p1", plan=plan, next_chunk=1)]))
    assert (card.state, card.group, card.progress) == ("uploading", "in_progress", (10_000_000, 30_000_000))
    assert card.detail == "10.0 MB of 30.0 MB sent" and card.actions == ()


def test_processing_and_pending_init_are_in_progress():
    a, b = video(0), video(1)
    result = board([a, b], [record(a, "processing", publish_id="p1"), record(b, "pending_init")])
    assert [(c.state, c.group) for c in result.cards] == [("processing", "in_progress"), ("uploading", "in_progress")]
    assert result.moving


def test_a_real_post_links_to_tiktok_and_an_emulated_one_to_the_emulator():
    entry = video()
    done = record(entry, "posted", publish_id="p1", post_ids=(7300000000000000001,), username="ada.creates",
                  privacy="PUBLIC_TO_EVERYONE")
    real = only(board([entry], [done]))
    assert real.state == "posted" and real.link.url == "https://www.tiktok.com/@ada.creates/video/7300000000000000001"
    assert real.link.text == "View on TikTok" and not real.emulated
    fake = only(board([entry], [done], emulated=True))
    assert fake.link.url == f"{EMULATOR}/@ada.creates/video/7300000000000000001"
    assert "tiktok.com" not in fake.link.url and fake.link.text == "View on the emulator" and fake.emulated
    assert not board([entry], [done]).moving


def test_public_without_an_id_is_under_review_and_keeps_the_page_polling():
    entry = video()
    b = board([entry], [record(entry, "posted", publish_id="p1", privacy="PUBLIC_TO_EVERYONE", published_at=NOW)])
    card = only(b)
    assert (card.state, card.label, card.group, card.link) == ("under_review", "Under review", "done", None)
    assert b.moving


def test_a_private_post_without_an_id_is_posted_with_no_link():
    entry = video()
    card = only(board([entry], [record(entry, "posted", publish_id="p1", privacy="SELF_ONLY")]))
    assert card.state == "posted" and card.link is None and "not public" in card.detail


def test_inbox_draft():
    entry = video(draft=True)
    card = only(board([entry], [record(entry, "inbox", publish_id="p1")]))
    assert (card.state, card.label, card.kind) == ("inbox", "In inbox", "draft")


def test_failed_shows_tiktoks_reason_and_log_id_and_offers_retry():
    entry = video()
    failed = record(entry, "failed", publish_id="p1", fail_reason="spam_risk_too_many_posts",
                    error="TikTok failed the post: spam_risk_too_many_posts", log_id="202612030900ABCDEF",
                    outcome="failed")
    card = only(board([entry], [failed]))
    assert (card.state, card.group, card.actions) == ("failed", "failed", ("retry",))
    assert "spam_risk_too_many_posts" in card.detail and "log_id 202612030900ABCDEF" in card.detail
    assert card.log_id == "202612030900ABCDEF"


def test_a_requested_retry_is_due_again_with_no_second_button():
    entry = video()
    card = only(board([entry], [record(entry, "failed", outcome="failed", retry_requested=True)]))
    assert (card.state, card.actions) == ("due", ()) and "retry requested" in card.detail


def test_relink_outcome_needs_relink():
    entry = video()
    card = only(board([entry], [record(entry, "failed", outcome="relink", error="the refresh token was revoked")]))
    assert (card.state, card.label, card.actions) == ("relink", "Needs relink", ("retry",))


def test_invalid_entries_and_file_problems():
    problems = [ManifestProblem(1, "privacy", 'm.json: entry 2 (user_id "x"): field "privacy": unknown value'),
                ManifestProblem(None, "extra", 'm.json: unknown top-level field "extra"')]
    b = board([video(0)], problems=problems)
    assert [c.state for c in b.cards] == ["due", "invalid"]
    assert b.cards[1].number == 2 and "unknown value" in b.cards[1].detail and b.cards[1].key == ""
    assert b.problems == ('m.json: unknown top-level field "extra"',)


def test_photos_and_urls_are_labelled_by_what_they_are():
    photos = PostRequest(index=0, user_id="someone-else", photo_urls=("https://a/1.jpg", "https://a/2.jpg"))
    pulled = PostRequest(index=1, user_id=ADA, video_url="https://cdn.example/v.mp4")
    first, second = board([photos, pulled]).cards
    assert (first.kind, first.media) == ("photo", "2 photo(s)")
    assert not first.who.connected and first.who.handle == "someone-else"
    assert second.media == "https://cdn.example/v.mp4"


def test_groups_hold_cards_in_file_order():
    a, b, c = video(0, post_at=at(600)), video(1), video(2, post_at=at(60))
    groups = {g.name: [card.number for card in g.cards] for g in board([a, b, c]).groups}
    assert groups == {"upcoming": [1, 2, 3], "in_progress": [], "done": [], "failed": []}


@pytest.mark.parametrize("delta, text", [(20, "now"), (-20, "just now"), (90, "in 1 min"), (-7200, "2 h ago"),
                                         (3 * 86400 + 5, "in 3 d")])
def test_relative_times(delta, text):
    assert relative(NOW + delta, NOW) == text


def test_local_time_shows_the_offset():
    assert local_time(NOW, timezone(timedelta(hours=-5))) == "2026-11-29 19:53 (UTC-05:00)"


def test_a_second_identical_entry_is_a_duplicate_with_no_actions_of_its_own():
    first = video(0, post_at=at(600))
    copy = dataclasses.replace(first, index=1, post_at=at(7200))  # only post_at differs: the same post
    b = board([first, copy], [record(first, "posted", post_ids=(7,), username="ada.creates")])
    original, twin = b.cards
    assert (original.state, original.key) == ("posted", entry_key(first))
    assert (twin.state, twin.label, twin.group, twin.key, twin.actions) == ("duplicate", "Duplicate", "failed", "", ())
    assert "same post as entry 1" in twin.detail and twin.link is None and twin.caption == "Bread #baking"
    assert b.card(entry_key(first)) is original


def test_an_emulated_post_seen_by_an_app_talking_to_tiktok_gets_no_link():
    entry = video()
    done = record(entry, "posted", post_ids=(7,), username="ada.creates", emulated=True)
    card = only(board([entry], [done], emulated=False))
    assert card.state == "posted" and card.emulated and card.link is None


def test_the_json_of_a_card_is_what_posts_js_and_the_tests_read():
    entry = video()
    plan = {"video_size": 20_000_000, "chunk_size": 10_000_000, "total_chunk_count": 2}
    card = only(board([entry], [record(entry, "uploading", publish_id="p1", plan=plan, next_chunk=1)],
                      emulated=True))
    assert card.to_json() == {"key": entry_key(entry), "number": 1, "state": "uploading", "label": "Uploading",
                              "detail": "10.0 MB of 20.0 MB sent", "group": "in_progress", "link": None,
                              "emulated": True, "actions": [], "progress": [10_000_000, 20_000_000]}


def test_the_page_knows_when_the_next_scheduled_card_comes_due():
    later, sooner, past = video(0, post_at=at(7200)), video(1, post_at=at(600)), video(2, post_at=at(-60))
    b = board([later, sooner, past])
    assert b.next_due_at == pytest.approx(NOW + 600) and b.moving  # the due card keeps the page polling
    assert board([video(3)]).next_due_at is None
