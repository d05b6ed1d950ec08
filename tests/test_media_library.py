"""The media library (issue 23, item 2): which posts use each file, what the cleanup removes and when, and the
``/media/`` page, on SQLite and PostgreSQL (``store_kind``).

The must-show: with the shipped MEDIA_KEEP_UNUSED_DAYS (3 days), an upload no post uses is removed once its time has
passed (not a minute before), and a file a scheduled post uses is not, however long the post waits. Time is the
store's injected clock, or the served app's (``served.clock``); nothing sleeps. The page is read over real HTTP on
loopback, thumbnails included; the cleanup runs as the app's background runner and as ``python -m tiktok media
clean`` in its own process.
"""

from __future__ import annotations

import html
import io
import os
import re
import secrets
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PIL import Image

from tiktok.config import DEFAULT_MEDIA_KEEP_UNUSED_DAYS, load_settings
from tiktok.emulator.config import default_users
from tiktok.errors import ChangeRefused, ConfigError
from tiktok.media import library
from tiktok.posting.composition import media_name
from tiktok.store import schema
from tiktok.store.media import uses_query
from tiktok.store.records import PostRecord, State, entry_key
from tiktok.web.post_store import store_of
from tiktok.web.queue_runner import runner_of
from tests.media_fixtures import make_video
from tests.support.stores import FixedClock as Clock, make_store

ROOT = Path(__file__).resolve().parents[1]
ADA = default_users()[0].open_id
DAY = 86_400.0
MINUTE = 60.0
WAIT_S = 60.0  # only reached when the runner is broken


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def made(store_kind, tmp_path, request, clock):
    made = make_store(store_kind, tmp_path, request, clock=clock)
    yield made
    made.store.close()


@pytest.fixture
def store(made):
    return made.store


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "media"
    path.mkdir()
    return path


def shipped_keep_s() -> float:
    """MEDIA_KEEP_UNUSED_DAYS as a person gets it with nothing set."""
    return load_settings({}).media.keep_unused_s


def upload(folder: Path, original: str, **video) -> Path:
    """A real video kept under the name the composer's upload gives it."""
    return make_video(folder / media_name(secrets.token_hex(16), original, "mp4"), **video)


def post_with(store, path: Path, *, due_at: float | None = None, **more):
    entry = {"user_id": ADA, "video_path": str(path), "privacy": "SELF_ONLY", **more}
    if due_at is not None:
        entry["post_at"] = datetime.fromtimestamp(due_at, timezone.utc).isoformat()
    return store.add(entry, key=entry_key(entry), due_at=due_at, media_name=path.name.split("-", 1)[1])


def end_in(store, post, state: State) -> None:
    """Start the post and leave its record in ``state`` (what a run would write)."""
    store.start(post.id, post.revision, PostRecord(key=post.key, user_id=post.user_id, state=State.PENDING_INIT))
    store.save(post.id, PostRecord(key=post.key, user_id=post.user_id, state=state, publish_id="p-1",
                                   outcome="failed" if state == State.FAILED else None))


# -- the cleanup, on the store ---------------------------------------------------------------------------------------

def test_an_abandoned_upload_goes_after_its_time_and_a_scheduled_posts_file_stays(store, folder, clock):
    keep = shipped_keep_s()
    assert keep == DEFAULT_MEDIA_KEEP_UNUSED_DAYS * DAY == 3 * DAY
    abandoned, scheduled = upload(folder, "abandoned.mp4"), upload(folder, "holiday.mp4")
    for path in (abandoned, scheduled):
        library.record_upload(store, path, original=path.name.split("-", 1)[1], now=clock.now)
    post = post_with(store, scheduled, due_at=clock.now + 7 * DAY)
    assert library.thumbnail(folder, abandoned.name).is_file()  # made once; it goes with its file
    size = abandoned.stat().st_size

    clock.now += keep - MINUTE
    assert library.clean(store, folder, now=clock.now, keep_s=keep).removed == []
    assert abandoned.is_file() and scheduled.is_file()

    clock.now += 2 * MINUTE
    cleaned = library.clean(store, folder, now=clock.now, keep_s=keep)
    assert [media.name for media in cleaned.removed] == [abandoned.name]
    assert cleaned.freed_bytes == size
    assert not abandoned.exists() and not library.thumb_path(folder, abandoned.name).exists()
    assert scheduled.is_file() and store.media_file(abandoned.name).removed_at == clock.now

    clock.now += 30 * DAY  # long past its time: missed, still queued, still the file's
    assert library.clean(store, folder, now=clock.now, keep_s=keep).removed == []
    assert scheduled.is_file() and store.get(post.id).state == State.QUEUED
    assert store.media_file(abandoned.name) is None  # the removed file's row is dropped a day later


@pytest.mark.parametrize("state", [State.PENDING_INIT, State.UPLOADING, State.PROCESSING, State.FAILED])
def test_a_file_a_post_in_flight_or_failed_uses_is_never_removed(store, folder, clock, state):
    keep = shipped_keep_s()
    path = upload(folder, "clip.mp4")
    library.record_upload(store, path, original="clip.mp4", now=clock.now)
    end_in(store, post_with(store, path), state)
    clock.now += 10 * keep
    assert library.clean(store, folder, now=clock.now, keep_s=keep).removed == [] and path.is_file()
    refused = library.remove(store, folder, path.name)  # nor by a person
    assert refused.reason == "held" and [use.state for use in refused.held_by] == [state] and path.is_file()


@pytest.mark.parametrize("state", [State.POSTED, State.IN_INBOX, State.CANCELLED])
def test_a_file_whose_posts_ended_goes_the_same_time_after_their_last_change(store, folder, clock, state):
    keep = shipped_keep_s()
    path = upload(folder, "clip.mp4")
    library.record_upload(store, path, original="clip.mp4", now=clock.now)
    post = post_with(store, path)
    clock.now += 2 * DAY
    if state == State.CANCELLED:
        store.cancel(post.id)
    else:
        end_in(store, post, state)
    clock.now += keep - MINUTE  # 5 days after the upload, but not yet 3 after the post ended
    assert library.clean(store, folder, now=clock.now, keep_s=keep).removed == [] and path.is_file()
    clock.now += 2 * MINUTE
    assert [m.name for m in library.clean(store, folder, now=clock.now, keep_s=keep).removed] == [path.name]
    assert not path.exists() and store.get(post.id).state == state  # the post's history stays


def test_a_compose_at_the_moment_of_the_cleanup_either_holds_the_file_or_is_refused(store, folder, clock):
    keep = shipped_keep_s()
    first, second = upload(folder, "first.mp4"), upload(folder, "second.mp4")
    for path in (first, second):
        library.record_upload(store, path, original=path.name.split("-", 1)[1], now=clock.now)
    clock.now += keep + MINUTE
    # the compose's transaction first: the file is held, the cleanup's check inside its own transaction sees it
    post_with(store, first, due_at=clock.now + DAY)
    assert library.remove(store, folder, first.name, before=clock.now - keep).reason == "held" and first.is_file()
    # the cleanup's first: the compose that had read the file is refused with a sentence, nothing is added
    assert library.remove(store, folder, second.name, before=clock.now - keep).removed and not second.exists()
    count = store.count()
    with pytest.raises(ChangeRefused, match="second.mp4 was removed from the media library.*choose the file again"):
        post_with(store, second, due_at=clock.now + DAY)
    assert store.count() == count


@pytest.mark.slow
def test_composes_racing_a_cleanup_in_another_process_never_queue_a_missing_file(test_store, tmp_path):
    """Two processes at once: one adds a post per upload, each right after seeing its file; the other removes every
    upload no post holds. A post added has its file; a compose that lost the race was refused."""
    import json
    import shutil

    folder, go = tmp_path / "media", tmp_path / "go"
    folder.mkdir()
    clip = make_video(tmp_path / "clip.mp4")
    start = 1_800_000_000.0
    for n in range(150):
        path = folder / media_name(secrets.token_hex(16), f"clip{n}.mp4", "mp4")
        shutil.copyfile(clip, path)
        library.record_upload(test_store.store, path, original=f"clip{n}.mp4", now=start)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), **test_store.env,
           "TOKENS_FILE": str(tmp_path / "user_tokens.json")}
    later = start + 10 * shipped_keep_s()
    procs = {role: subprocess.Popen([sys.executable, "-m", "tests.support.media_race", role, str(folder), str(now),
                                     str(go)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
             for role, now in (("compose", start), ("clean", later))}
    for proc in procs.values():
        assert json.loads(proc.stdout.readline())["ready"]
    go.touch()
    lines = {role: [json.loads(line) for line in proc.communicate(timeout=120)[0].splitlines()]
             for role, proc in procs.items()}
    assert all(proc.returncode == 0 for proc in procs.values())
    added = {line["name"] for line in lines["compose"] if line["added"]}
    removed = {line["removed"] for line in lines["clean"]}
    assert not added & removed
    assert all((folder / name).is_file() for name in added)  # every queued post has its file
    assert not any((folder / name).exists() for name in removed)
    queued = {Path(post.entry["video_path"]).name for post in test_store.store.every_post()}
    assert queued == added and len(added) + len(removed) == 150
    print(f"race: {len(added)} composed, {len(removed)} removed")


def test_adding_a_post_marks_its_file_used_so_the_clock_starts_again(store, folder, clock):
    keep = shipped_keep_s()
    path = upload(folder, "clip.mp4")
    library.record_upload(store, path, original="clip.mp4", now=clock.now)
    clock.now += 2 * DAY
    post = post_with(store, path)
    store.cancel(post.id)
    clock.now += 2 * DAY  # 4 days after the upload, 2 after its last use
    assert library.clean(store, folder, now=clock.now, keep_s=keep).removed == [] and path.is_file()
    assert store.media_file(path.name).last_used_at == clock.now - 2 * DAY


def test_a_post_written_without_links_still_holds_its_file(made, folder, clock):
    """An older version (store version 2) writes no post_media rows during a rolling upgrade: the removal also reads
    the entries of the live posts."""
    store = made.store
    path = upload(folder, "clip.mp4")
    library.record_upload(store, path, original="clip.mp4", now=clock.now)
    post = post_with(store, path, due_at=clock.now + DAY)
    with store.engine.begin() as conn:
        conn.execute(schema.post_media.delete())
    assert store.media_uses([path.name]) == {path.name: []}
    clock.now += 10 * DAY
    refused = library.remove(store, folder, path.name, before=clock.now - shipped_keep_s())
    assert refused.reason == "held" and [use.post_id for use in refused.held_by] == [post.id] and path.is_file()


def test_every_way_a_post_is_written_names_its_files(store, folder, clock):
    video, stored = upload(folder, "a.mp4"), "ab" * 32 + ".mp4"
    photos = {"user_id": ADA, "photo_urls": ["https://cdn.example.com/p/one.jpg", "https://cdn.example.com/two.jpg"],
              "privacy": "SELF_ONLY"}
    by_path = post_with(store, video)
    by_key = store.add({"user_id": ADA, "video_media": stored, "privacy": "SELF_ONLY"}, key="k-stored", due_at=None)
    by_urls = store.add(photos, key=entry_key(photos), due_at=None)
    uses = store.media_uses([video.name, stored, "one.jpg", "two.jpg", "unused.mp4"])
    assert {name: [use.post_id for use in found] for name, found in uses.items()} == {
        video.name: [by_path.id], stored: [by_key.id], "one.jpg": [by_urls.id], "two.jpg": [by_urls.id],
        "unused.mp4": []}
    other = upload(folder, "b.mp4")
    store.edit(by_path.id, {**by_path.entry, "video_path": str(other)}, due_at=None, revision=by_path.revision)
    assert [u.post_id for u in store.media_uses([other.name])[other.name]] == [by_path.id]
    assert store.media_uses([video.name])[video.name] == []


def test_the_migration_links_the_posts_a_store_already_holds(made, folder, clock):
    store = made.store
    path = upload(folder, "clip.mp4")
    post = post_with(store, path, due_at=clock.now + DAY)
    with store.engine.begin() as conn:  # back to store version 2, as an earlier version left it
        for table in (schema.post_media, schema.media):
            table.drop(conn)
        conn.execute(schema.version.delete().where(schema.version.c.version == 3))
    if made.kind == "sqlite":
        reopened = made.reopen()
    else:
        from tiktok.store.postgres import migrate
        assert [m.version for m in migrate(made.env["DATABASE_URL"])] == [3]
        reopened = made.reopen()
    try:
        assert [use.post_id for use in reopened.media_uses([path.name])[path.name]] == [post.id]
        assert library.remove(reopened, folder, path.name).reason == "gone"  # no row yet: adopted on listing
        assert library.adopt(reopened, folder) == 1
        assert library.remove(reopened, folder, path.name).reason == "held"
    finally:
        reopened.close()


def test_which_posts_use_a_file_is_one_indexed_query(tmp_path, request):
    made = make_store("sqlite", tmp_path, request)
    try:
        sql = str(uses_query(["x.mp4"]).compile(made.store.engine, compile_kwargs={"literal_binds": True}))
        with made.store.engine.connect() as conn:
            plan = " | ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    finally:
        made.store.close()
    assert "USING COVERING INDEX tiktok_store_post_media_name" in plan and "USING INTEGER PRIMARY KEY" in plan, plan


def test_files_from_before_the_library_are_adopted_dated_by_their_last_change(store, folder, clock):
    old = upload(folder, "old.mp4")
    os.utime(old, (clock.now - 5 * DAY, clock.now - 5 * DAY))
    (folder / "notes.txt").write_text("not an upload")
    (folder / ".upload-abc.part").write_bytes(b"half")  # an upload in progress: hidden, never touched
    broken = folder / media_name(secrets.token_hex(16), "broken.mp4", "mp4")
    broken.write_bytes(b"not a video")
    os.utime(broken, (clock.now, clock.now))  # new: listed with its problem, not old enough to go
    assert library.adopt(store, folder) == 2 and library.adopt(store, folder) == 0
    row = store.media_file(old.name)
    assert (row.created_at, row.kind, row.duration_s, row.width, row.height) == (clock.now - 5 * DAY, "video",
                                                                                  3.0, 360, 640)
    assert row.checks["problems"] == [] and row.checks["codec_label"] == "H.264"
    assert "cannot be read as a video" in store.media_file(broken.name).checks["problems"][0]
    cleaned = library.clean(store, folder, now=clock.now, keep_s=shipped_keep_s())
    assert [m.name for m in cleaned.removed] == [old.name]  # 5 days old: past its time at once
    assert (folder / "notes.txt").exists() and (folder / ".upload-abc.part").exists() and broken.exists()


def test_an_upload_a_listing_adopted_before_its_record_gets_its_name_and_checks(store, folder, clock):
    path = upload(folder, "clip.mp4")
    assert library.adopt(store, folder) == 1 and store.media_file(path.name).original is None
    library.record_upload(store, path, original="Clip (1).mp4", now=clock.now, max_duration_s=60)
    row = store.media_file(path.name)
    assert (row.original, row.checks["max_duration_s"]) == ("Clip (1).mp4", 60)
    assert library.shown_name(row) == "Clip (1).mp4"


def test_thumbnails_are_small_jpegs_made_once(folder):
    video = upload(folder, "tall.mp4", width=720, height=1280, seconds=3.0)
    photo = folder / media_name(secrets.token_hex(16), "photo", "jpg")
    Image.new("RGB", (4000, 3000), (200, 30, 30)).save(photo, "JPEG")
    for name, size in ((video.name, (180, 320)), (photo.name, (320, 240))):
        made = library.thumbnail(folder, name)
        with Image.open(made) as image:
            assert (image.format, image.size) == ("JPEG", size)
        stamp = made.stat().st_mtime_ns
        assert library.thumbnail(folder, name).stat().st_mtime_ns == stamp  # read again, not made again
    assert library.thumbnail(folder, media_name(secrets.token_hex(16), "gone", "mp4")) is None
    for bad in ("../user_tokens.json", ".thumbs", "x.mp4"):
        with pytest.raises(ValueError):
            library.thumbnail(folder, bad)


@pytest.mark.parametrize("raw, expected", [("", 3 * DAY), ("3", 3 * DAY), ("0.5", DAY / 2), ("14", 14 * DAY),
                                           ("0", None)])
def test_the_setting_takes_days_and_zero_keeps_every_upload(raw, expected):
    assert load_settings({"MEDIA_KEEP_UNUSED_DAYS": raw}).media.keep_unused_s == expected


@pytest.mark.parametrize("raw", ["three", "-1", "0.001", "4000", "nan", "inf"])
def test_a_bad_setting_is_refused_with_its_name_and_form(raw):
    with pytest.raises(ConfigError, match=r"MEDIA_KEEP_UNUSED_DAYS=.*(number of days|out of range).*default 3"):
        load_settings({"MEDIA_KEEP_UNUSED_DAYS": raw})


# -- the page and the app --------------------------------------------------------------------------------------------

@pytest.fixture
def served(serve_app, test_store, tmp_path):
    """The app as shipped (no MEDIA_KEEP_UNUSED_DAYS), on the test's store, with one linked account."""
    app = serve_app(MEDIA_DIR=str(tmp_path / "media"), MANIFEST_FILE=str(tmp_path / "none.json"), **test_store.env)
    web = app.client()
    assert web.login(open_id=ADA).status_code == 302
    app.web = web
    app.media = tmp_path / "media"
    app.media.mkdir(exist_ok=True)
    return app


def compose_scheduled(app, media_id: str, original: str, days: float):
    """The composer's form, as a browser sends it: a post of ``media_id`` scheduled ``days`` from the app's now."""
    when = datetime.fromtimestamp(app.clock() + days * DAY, timezone.utc).replace(microsecond=0)
    response = app.web.post_form("/posts/new", {
        "open_id": ADA, "source": "upload", "media_id": media_id, "media_name": original, "privacy": "SELF_ONLY",
        "action": "schedule", "post_at_local": when.strftime("%Y-%m-%dT%H:%M:%S"), "zone": "UTC"},
        allow_redirects=False)
    assert response.status_code == 302, html.unescape(response.text)[:2000]
    return next(p for p in store_of(app.flask_app).every_post() if p.entry.get("video_path", "").endswith(media_id))


def cards(page: str) -> dict[str, str]:
    """The media page's cards by file name: each card's HTML."""
    found = re.findall(r'(<article class="media-card[^"]*" id="media-([^"]+)".*?</article>)', page, re.S)
    return {name: card for card, name in found}


def clean_round(app) -> None:
    runner = runner_of(app.flask_app)
    runner.kick()
    assert runner.join(WAIT_S), "the background runner did not finish its round"


def test_the_runner_removes_an_abandoned_upload_after_three_days_and_keeps_a_scheduled_posts_file(served):
    store = store_of(served.flask_app)
    abandoned, scheduled = upload(served.media, "abandoned.mp4"), upload(served.media, "holiday.mp4")
    for path in (abandoned, scheduled):  # what the upload does when it keeps a file
        library.record_upload(store, path, original=path.name.split("-", 1)[1], now=served.clock())
    post = compose_scheduled(served, scheduled.name, "Holiday.mp4", days=7)
    clean_round(served)  # cleans now (nothing is old), then not again for an hour
    served.clock.advance(2 * DAY)
    clean_round(served)
    assert abandoned.is_file() and scheduled.is_file()
    served.clock.advance(DAY + MINUTE)  # 3 days and a minute after the upload
    clean_round(served)
    assert not abandoned.exists() and scheduled.is_file()
    assert store.media_file(abandoned.name).removed_at is not None
    page = served.web.get("/media/").text
    assert set(cards(page)) == {scheduled.name}
    assert f'href="/posts/?group=upcoming#post-{post.id}">post {post.id}</a>' in page


def test_the_page_lists_every_file_with_its_thumbnail_checks_and_posts(served):
    store = store_of(served.flask_app)
    recorded = upload(served.media, "Bread & butter.mp4")
    library.record_upload(store, recorded, original="Bread & butter (final).mp4", now=served.clock())
    earlier = upload(served.media, "earlier.mp4", fps=15)  # kept before the library: adopted on listing
    photo = served.media / media_name(secrets.token_hex(16), "photo", "jpg")
    Image.new("RGB", (1200, 900), (10, 120, 200)).save(photo, "JPEG")
    post = compose_scheduled(served, recorded.name, "Bread & butter (final).mp4", days=2)

    response = served.web.get("/media/")
    assert response.status_code == 200
    page = response.text
    found = cards(page)
    assert set(found) == {recorded.name, earlier.name, photo.name}
    bread = found[recorded.name]
    assert '<h2 class="media-original">Bread &amp; butter (final).mp4</h2>' in bread
    assert "TikTok's checks pass" in bread and '<span class="media-duration">3 s</span>' in bread
    assert f'<a href="/posts/?group=upcoming#post-{post.id}">post {post.id}</a>' in bread and "scheduled for" in bread
    assert 'class="button small danger delete"' not in bread  # held: no Delete button
    assert f'href="/posts/new?media={recorded.name}"' in bread
    assert "frame rate" in html.unescape(found[earlier.name]) and "No post uses it." in found[earlier.name]
    assert "Removed after" in found[earlier.name] and 'class="button small danger delete"' in found[earlier.name]
    assert "Use in a new post" not in found[photo.name]  # the composer takes videos only
    assert 'id="nav-media" href="/media/"' in page
    for name in found:
        src = f"/media/{name}/thumb.jpg"
        assert f'<img src="{src}"' in found[name]
        thumb = served.web.get(src)
        assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
        with Image.open(io.BytesIO(thumb.content)) as image:
            assert image.format == "JPEG" and max(image.size) <= library.THUMB_PX
        assert library.thumb_path(served.media, name).is_file()
    assert served.web.get(f"/media/{recorded.name}/file").content == recorded.read_bytes()
    for bad in ("..%2Fuser_tokens.json", "x.mp4", media_name("0" * 32, "gone", "mp4")):
        assert served.web.get(f"/media/{bad}/thumb.jpg").status_code == 404

    # the post's card shows the original name and the thumbnail
    posts = served.web.get("/posts/").text
    card = re.search(rf'<article[^>]*data-id="{post.id}".*?</article>', posts, re.S).group(0)
    assert f'src="/media/{recorded.name}/thumb.jpg"' in card
    assert '<span class="media-name">Bread &amp; butter (final).mp4</span>' in card

    # "Use in a new post": the composer opens with the file chosen
    composer = served.web.get(f"/posts/new?media={recorded.name}").text
    assert f'name="media_id" id="media-id" value="{recorded.name}"' in composer
    assert 'name="media_name" id="media-name" value="Bread &amp; butter (final).mp4"' in composer
    assert f'src="/posts/media/{recorded.name}"' in composer


def test_delete_is_refused_while_a_queued_post_uses_the_file_and_removes_an_unused_one(served):
    store = store_of(served.flask_app)
    used, unused = upload(served.media, "used.mp4"), upload(served.media, "unused.mp4")
    for path in (used, unused):
        library.record_upload(store, path, original=path.name.split("-", 1)[1], now=served.clock())
    post = compose_scheduled(served, used.name, "used.mp4", days=1)

    refused = served.web.post_form(f"/media/{used.name}/delete")
    assert refused.status_code == 409 and used.is_file()
    text = html.unescape(refused.text)
    assert f"used.mp4 is used by post {post.id} (queued)" in text and "nothing was deleted" in text
    no_token = served.web.http.post(f"{served.web.url}/media/{unused.name}/delete", timeout=10)
    assert no_token.status_code == 400 and unused.is_file()
    deleted = served.web.post_form(f"/media/{unused.name}/delete")
    assert deleted.status_code == 200 and "Deleted unused.mp4" in deleted.text and not unused.exists()
    assert unused.name not in cards(deleted.text) and used.name in cards(deleted.text)
    again = served.web.post_form(f"/media/{unused.name}/delete")
    assert again.status_code == 404 and "nothing was deleted" in html.unescape(again.text)
    # the composer no longer offers it, and a form naming it is refused
    assert 'name="media_id" id="media-id" value=""' in served.web.get(f"/posts/new?media={unused.name}").text


@pytest.mark.slow  # a process of its own
def test_media_clean_in_its_own_process_removes_old_uploads_and_keeps_a_scheduled_posts(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    old, kept, fresh = (upload(folder, name) for name in ("old.mp4", "kept.mp4", "fresh.mp4"))
    four_days_ago = datetime.now().timestamp() - 4 * DAY
    for path in (old, kept):
        os.utime(path, (four_days_ago, four_days_ago))
    from tiktok.store.sqlite import open_sqlite
    store = open_sqlite(tmp_path / "tiktok.db", clock=lambda: four_days_ago)
    post_with(store, kept, due_at=four_days_ago + 30 * DAY)
    store.close()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "MEDIA_DIR": str(folder),
           "STORE_FILE": str(tmp_path / "tiktok.db"), "TOKENS_FILE": str(tmp_path / "user_tokens.json")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tiktok", "media", *args], cwd=tmp_path, env=env, text=True,
                              capture_output=True, timeout=60)

    dry = run("clean", "--dry-run")
    assert dry.returncode == 0 and "1 unused upload older than 3 days would be removed" in dry.stdout, dry.stderr
    assert old.exists()
    done = run("clean")
    assert done.returncode == 0, done.stderr
    assert re.search(rf"done\s+{re.escape(old.name)}: removed: 7.9 kB, unused for more than 3 days", done.stdout,
                     re.I), done.stdout
    assert not old.exists() and kept.is_file() and fresh.is_file()
    listed = run("list")
    assert listed.returncode == 0 and "2 files" in listed.stdout
    assert re.search(rf"{re.escape(kept.name)}: video, .*used by post 1 \(queued\)", listed.stdout), listed.stdout
    assert run("list", "extra").returncode == 2 and run("fix").returncode == 2


@pytest.mark.slow
def test_the_media_page_fits_a_390_px_phone(served):
    from playwright.sync_api import sync_playwright
    from tests.test_browser_login import CHROMIUM_ARGS, chromium_path

    store = store_of(served.flask_app)
    path = upload(served.media, "a-rather-long-file-name-for-a-holiday-video-2026-final-v2-really-final.mp4")
    library.record_upload(store, path, original="a rather long file name for a holiday video (2026) final v2.mp4",
                          now=served.clock())
    compose_scheduled(served, path.name, "holiday.mp4", days=1)
    upload(served.media, "earlier.mp4", fps=15)
    cookies = [{"name": c.name, "value": c.value, "url": served.url} for c in served.web.http.cookies]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                      has_touch=True)
        context.add_cookies(cookies)
        tab = context.new_page()
        tab.goto(served.url + "/media/")
        tab.wait_for_selector(".media-card img")
        tab.wait_for_function("[...document.querySelectorAll('.media-card img')].every(i => i.complete && "
                              "i.naturalWidth > 0)")
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        browser.close()
