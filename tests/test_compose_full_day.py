"""The composer warns BEFORE a post goes over one of TikTok's per-account caps, and never adds one silently (issue 27,
item 5), over real loopback HTTP with the shipped settings:

- picking a time asks ``/posts/new/day`` how many of the account's posts that local day holds; a day holding
  TikTok's daily cap answers with the warning the page shows next to Schedule, one post fewer with none;
- Schedule onto a full day without “Schedule anyway” is answered with the form (409), the warning by the button and
  the box, the upload kept, and nothing added; with the box ticked the post is added and the Posts page warns;
- “Send to inbox” while the account's pending drafts are at TikTok's cap is held the same way (the GET page already
  shows that warning and its “Send anyway” box, since it does not depend on a date).
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import pytest

from tiktok.posting.budget import DAILY_DIRECT_POSTS, PENDING_DRAFTS
from tiktok.store.records import entry_key
from tests.test_budget import seed
from tests.test_composer_web import ADA, BO, clip, composer, valid_form  # noqa: F401 - fixtures used here


def fill(store, day: datetime, count: int) -> None:
    for n in range(count):
        entry = {"user_id": ADA, "video_url": f"https://cdn.example.com/{n}.mp4", "description": f"filler {n}"}
        store.add(entry, key=entry_key(entry), due_at=(day + timedelta(minutes=n)).timestamp())


def noon_in_three_days(composer) -> datetime:
    # TZ as shipped (the day is counted in the machine's zone): noon UTC three days on, and every post within
    # the half hour after it, fall on one calendar day in any zone but those 12 hours or more from UTC
    now = datetime.fromtimestamp(composer.served.clock(), timezone.utc)
    return (now + timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)


def local_day(at: datetime) -> str:
    return at.astimezone().date().isoformat()  # the machine's zone: no account names a zone of its own here


def warning_by_the_button(page: str) -> str | None:
    """The text of the day's warning next to Schedule when it is shown (not hidden), else None."""
    box = re.search(r'<div class="day-warning" id="day-warning"[^>]*>', page)
    assert box, page[:3000]
    if "hidden" in box.group(0):
        return None
    return re.search(r'<p class="warning" id="day-warning-text">([^<]*)</p>', page).group(1)


@pytest.mark.parametrize("already, full", [(DAILY_DIRECT_POSTS, True), (DAILY_DIRECT_POSTS - 1, False)])
def test_picking_a_time_asks_how_full_its_day_is(composer, already, full):
    day = noon_in_three_days(composer)
    fill(composer.store, day, already)
    at = day + timedelta(minutes=30)
    answer = composer.web.http.get(f"{composer.web.url}/posts/new/day", timeout=15, params={
        "open_id": ADA, "post_at_local": at.strftime("%Y-%m-%dT%H:%M"), "zone": "UTC", "offset": "+00:00"})
    assert answer.status_code == 200, answer.text
    said = answer.json()
    assert (said["count"], said["cap"], said["full"], said["day"]) == (already, DAILY_DIRECT_POSTS, full,
                                                                        local_day(at))
    if full:
        # the token store's @name, else the open_id (this fixture links accounts without asking their names)
        assert said["warning"].startswith(f"That day ({local_day(at)}) already has {already} posts for {ADA}: ")
        assert f"TikTok refuses more than {DAILY_DIRECT_POSTS} Direct Posts in 24 hours" in said["warning"]
        assert "Schedule anyway" in said["warning"]
    else:
        assert said["warning"] is None
    other = composer.web.http.get(f"{composer.web.url}/posts/new/day", timeout=15, params={
        "open_id": BO, "post_at_local": at.strftime("%Y-%m-%dT%H:%M"), "zone": "UTC"}).json()
    assert (other["count"], other["warning"]) == (0, None)  # another account's day is its own


@pytest.mark.parametrize("params, status, said", [
    ({"open_id": ADA, "post_at_local": "tomorrow"}, 400, "is not a date and time"),
    ({"open_id": ADA}, 400, "choose the date and time"),
    ({"open_id": "not-linked", "post_at_local": "2030-01-01T12:00"}, 404, "no connected account"),
])
def test_a_day_that_cannot_be_read_is_answered_with_what_to_do(composer, params, status, said):
    answer = composer.web.http.get(f"{composer.web.url}/posts/new/day", params=params, timeout=15)
    assert answer.status_code == status
    assert said in answer.json()["error"]


def test_schedule_onto_a_full_day_is_held_until_the_person_chooses_to_go_on(composer, clip):
    day = noon_in_three_days(composer)
    fill(composer.store, day, DAILY_DIRECT_POSTS)
    media = composer.upload(clip).json()["media_id"]
    at = day + timedelta(minutes=30)
    form = valid_form(media, action="schedule", description="One more", zone="UTC",
                      post_at_local=at.strftime("%Y-%m-%dT%H:%M"))
    before = composer.state()

    held = composer.post(**form)  # no JavaScript: the server answers with the warning and the box
    assert held.status_code == 409, html.unescape(held.text)[:2000]
    assert composer.state() == before  # nothing added
    page = html.unescape(held.text)
    warning = warning_by_the_button(page)
    assert warning and warning.startswith(f"That day ({local_day(at)}) already has {DAILY_DIRECT_POSTS} posts for @")
    assert f"TikTok refuses more than {DAILY_DIRECT_POSTS} Direct Posts in 24 hours" in warning
    assert 'name="full_day_ok"' in page and "Schedule anyway" in page
    assert page.index('id="post-schedule"') < page.index('id="day-warning"')  # by the buttons
    assert "Nothing was added to the queue" in page  # and said at the top
    assert f'name="media_id" id="media-id" value="{media}"' in page  # the upload is kept: nothing is lost

    added = composer.post(**form, full_day_ok="on")
    assert added.status_code == 302, html.unescape(added.text)[:2000]
    assert len(composer.posts()) == DAILY_DIRECT_POSTS + 1
    posts_page = html.unescape(composer.web.get("/posts/").text)
    assert (f"now has {DAILY_DIRECT_POSTS + 1} posts scheduled on {local_day(at)}, more than TikTok's cap of "
            f"{DAILY_DIRECT_POSTS}") in posts_page
    assert 'class="flash flash-warning"' in posts_page


def test_schedule_onto_a_day_with_room_is_added_without_a_word(composer, clip):
    day = noon_in_three_days(composer)
    fill(composer.store, day, DAILY_DIRECT_POSTS - 1)
    assert warning_by_the_button(composer.page().text) is None  # the GET page: hidden until a full day is picked
    media = composer.upload(clip).json()["media_id"]
    answer = composer.post(**valid_form(media, action="schedule", description="The last one", zone="UTC",
                                        post_at_local=(day + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")))
    assert answer.status_code == 302, html.unescape(answer.text)[:2000]
    assert len(composer.posts()) == DAILY_DIRECT_POSTS
    page = html.unescape(composer.web.get("/posts/").text)
    assert 'class="flash flash-warning"' not in page and "more than TikTok's cap" not in page


def test_send_to_inbox_with_the_drafts_cap_used_is_held_the_same_way(composer, clip):
    seed(composer.store, ADA, PENDING_DRAFTS, draft=True)  # five drafts went to Ada's inbox just now
    page = html.unescape(composer.page().text)
    warning = re.search(r'<p class="warning" id="drafts-warning-text">([^<]*)</p>', page)
    assert warning, page[:3000]
    assert re.fullmatch(rf"@\S+ already has {PENDING_DRAFTS} inbox drafts from the last 24 hours: TikTok refuses "
                        rf"more than {PENDING_DRAFTS} pending drafts in 24 hours\. Tick “Send anyway” to add it all "
                        r"the same; it waits until .+\.", warning.group(1))
    assert page.index('id="post-inbox"') < warning.start()
    assert 'drafts-warning' not in composer.page(BO).text  # Bo has room
    media = composer.upload(clip).json()["media_id"]
    form = valid_form(media, action="inbox")
    before = composer.state()
    held = composer.post(**form)
    assert held.status_code == 409, html.unescape(held.text)[:2000]
    assert composer.state() == before
    assert 'name="drafts_full_ok"' in held.text

    scheduled = composer.post(**valid_form(media, action="schedule", zone="UTC", post_at_local=(
        noon_in_three_days(composer)).strftime("%Y-%m-%dT%H:%M")))  # the drafts' cap is no Direct Post's
    assert scheduled.status_code == 302, html.unescape(scheduled.text)[:2000]
    added = composer.post(**form, drafts_full_ok="on")
    assert added.status_code == 302, html.unescape(added.text)[:2000]
    assert len(composer.posts()) == len(before[0]) + 2
