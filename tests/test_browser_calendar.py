"""The Calendar page in a real browser (issue 27 item 1; Playwright, Debian's Chromium, the app as shipped against
the emulator): a scheduled post dragged from one day to the next in the week view moves to that time in the store,
and the real runner with the clock at the old time makes nothing, at the new time makes it exactly once; a post a
run started after the page was drawn is refused when dragged, with the reason, and snaps back where it was."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tiktok.store.records import PostRecord, State, entry_key
from tiktok.web.post_store import store_of
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.test_browser_uploads import chromium  # noqa: F401 - the fixture: one headless Chromium
from tests.test_composer_web import ADA, BO, SCOPES

pytestmark = pytest.mark.slow  # a real Chromium, runs of the real runner

BERLIN = ZoneInfo("Europe/Berlin")  # the browser's zone here, whatever the machine's (TZ) is


@pytest.fixture
def browser_page(chromium, tmp_path):
    context = chromium.new_context(locale="en-GB", timezone_id="Europe/Berlin", viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
    finally:
        context.close()


def at_ten(day) -> float:
    return datetime(day.year, day.month, day.day, 10, tzinfo=BERLIN).timestamp()


def scheduled(store, user: str, clip, due_at: float, caption: str):
    entry = {"user_id": user, "video_path": str(clip), "privacy": "SELF_ONLY", "description": caption,
             "post_at": datetime.fromtimestamp(due_at, BERLIN).isoformat(timespec="seconds")}
    return store.add(entry, key=entry_key(entry), due_at=due_at)


def centre(page: Page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not on the page"
    return box["x"] + box["width"] / 2, box["y"] + min(box["height"] / 2, 8)


def drag(page: Page, post_id: int, to_x: float) -> tuple[float, float]:
    """Drag the post's event sideways to ``to_x`` (another day's column, the same time); where it started."""
    x, y = centre(page, f".ec-event[data-post='{post_id}']")
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + (to_x - x) * step / 10, y)
    page.mouse.up()
    return x, y


def inside_calendar(page: Page, post_id: int) -> tuple[float, float]:
    """Where the post's event is drawn, relative to the calendar."""
    box = page.locator(f".ec-event[data-post='{post_id}']").bounding_box()
    frame = page.locator("#calendar").bounding_box()
    return box["x"] - frame["x"], box["y"] - frame["y"]


def column_x(page: Page, day) -> float:
    """The middle of ``day``'s column in the week view (its header cell)."""
    headers = page.locator(".ec-header .ec-day")
    expect(headers).to_have_count(7)
    index = day.weekday()  # the week starts on Monday (calendar.js: firstDay 1)
    box = headers.nth(index).bounding_box()
    return box["x"] + box["width"] / 2


def test_a_dragged_post_moves_a_day_and_posts_once_at_its_new_time_and_a_started_one_snaps_back(
        browser_page, serve_app, emulator, remote, oauth, store, tmp_path):
    page = browser_page
    for open_id in (ADA, BO):
        link_account(emulator.url, store, oauth, open_id, scopes=SCOPES)
    app = serve_app(MANIFEST_FILE=str(tmp_path / "videos_to_upload.json"), MEDIA_DIR=str(tmp_path / "media"))
    posts = store_of(app.flask_app)
    clip = make_video(tmp_path / "clip.mp4")
    day = datetime.fromtimestamp(app.clock(), BERLIN).date() + timedelta(days=3)
    target = day + timedelta(days=1) if day.weekday() < 6 else day - timedelta(days=1)  # the same week
    post = scheduled(posts, ADA, clip, at_ten(day), "Moves a day")
    other = scheduled(posts, BO, clip, at_ten(day) + 2 * 3600, "Started meanwhile")

    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{app.url}/calendar/?date={day.isoformat()}")
    expect(page.locator(f".ec-event[data-post='{post.id}']")).to_be_visible()
    expect(page.locator(f".ec-event[data-post='{post.id}']")).to_have_attribute("data-movable", "1")
    expect(page.locator(f".ec-event[data-post='{post.id}'] .ec-event-time")).to_contain_text("10:00")  # Berlin's

    drag(page, post.id, column_x(page, target))
    message = page.locator("#calendar-message")
    expect(message).to_have_attribute("data-kind", "ok")
    expect(message).to_contain_text(f"Post {post.id} now posts at {target:%a %d %b %Y}, 10:00 Europe/Berlin (UTC")
    moved = posts.get(post.id)
    assert moved.due_at == at_ten(target) and moved.revision == post.revision + 1  # 10:00 in Berlin still
    new_box = page.locator(f".ec-event[data-post='{post.id}']").bounding_box()
    assert abs(new_box["x"] + new_box["width"] / 2 - column_x(page, target)) < new_box["width"]

    # Bo's post is started by a run after the page drew it as movable: the drag is refused and it snaps back
    page.reload()
    started = page.locator(f".ec-event[data-post='{other.id}']")
    expect(started).to_have_attribute("data-movable", "1")
    before = inside_calendar(page, other.id)
    assert posts.start(other.id, other.revision, PostRecord(key=other.key, user_id=BO, state=State.PENDING_INIT))
    drag(page, other.id, column_x(page, target))
    expect(message).to_have_attribute("data-kind", "refused")
    expect(message).to_have_text(f"Post {other.id} can no longer be rescheduled: a run has started it (it is pending "
                                 "init); nothing was changed.")
    after = inside_calendar(page, other.id)  # the message above the calendar moved the whole calendar down
    assert abs(after[0] - before[0]) < 2 and abs(after[1] - before[1]) < 2, (before, after)
    assert posts.get(other.id).due_at == other.due_at
    page.screenshot(path=str(tmp_path / "week.png"))
    page.get_by_role("button", name="month").click()  # the month view shows both, the moved one on its new day
    expect(page.locator(f".ec-event[data-post='{post.id}']")).to_be_visible()
    expect(page.locator(f".ec-event[data-post='{other.id}']")).to_be_visible()
    page.screenshot(path=str(tmp_path / "month.png"))

    page.locator(f".ec-event[data-post='{post.id}']").click()  # a scheduled post opens its edit form
    expect(page).to_have_url(f"{app.url}/posts/{post.id}/edit")
    page.go_back()
    page.get_by_role("button", name="month").click()
    week_on = target + timedelta(days=7)  # a day of the same month, without posts
    free_day = week_on if week_on.month == day.month else target - timedelta(days=7)
    page.locator(".ec-body .ec-day:not(.ec-other-month)", has=page.locator(".ec-day-head", has_text=re.compile(
        rf"^\s*{free_day.day}\s*$"))).click()  # a day opens the composer with that day filled in
    expect(page).to_have_url(re.compile(r"/posts/new\?"))
    expect(page.locator("#post-at")).to_have_value(f"{free_day.isoformat()}T12:00")
    assert problems == []  # no script error, nothing the Content-Security-Policy blocked

    # a run at the old time makes nothing; at the new time, the post once; again, nothing more
    settings = app.flask_app.extensions["tiktok_services"].settings
    lines: list[str] = []

    def run(now: float):
        return run_queue(posts, settings, RunOptions(poll_interval_s=0.01), clock=lambda: now,
                         hooks=Hooks(say=lines.append))

    run(at_ten(day) + 60)
    assert [p for p in remote.state()["posts"] if p["open_id"] == ADA] == []
    report = run(at_ten(target) + 30)
    made = [p for p in remote.state()["posts"] if p["open_id"] == ADA]
    assert len(made) == 1 and made[0]["status"] == "PUBLISH_COMPLETE", (report, lines)
    assert posts.get(post.id).state == State.POSTED
    run(at_ten(target) + 120)
    assert len([p for p in remote.state()["posts"] if p["open_id"] == ADA]) == 1
