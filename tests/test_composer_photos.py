"""The composer's photos over real loopback HTTP (tiktok/web/photos.py, tiktok/web/uploads.py's finish, the form's
photo source in tiktok/web/compose.py and tiktok/posting/composition.py), on the app served in a thread against the
strict emulator.

Pictures go up in slices as compose.js sends them, each converted by the media doctor when TikTok would refuse it,
the answer naming the photo and what changed; a file that is no picture is refused with nothing kept; the form's
photo files become an entry whose ``photo_media`` keys the media store holds (the folder, and an S3 bucket on moto's
server); a typed address outside the app's verified URL properties is refused with TikTok's reason before anything
is saved. With the shipped defaults (emulated: the app's own ``/published/`` is the verified prefix) a photo post of
files is posted by the app's runner: the emulator pulls the converted JPEGs and the published copies are withdrawn.
"""

from __future__ import annotations

import html
import json
import re
import struct
import time
import zlib
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from PIL import Image

from tiktok.media.store import KEY, FolderStore
from tiktok.web.photos import MAX_PICTURE_BYTES
from tiktok.web.post_store import store_of
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.pictures import heic, jpeg, png, sha256_of, the_three
from tests.support.posting import sha256_file
from tests.support.uploads import START_PATH, SliceClient
from tests.test_composer_web import ADA, BERLIN, SCOPES, Composer, Page

pytestmark = pytest.mark.slow  # large pictures converted (4000x3000, 90 and 400 megapixel headers): ~15 s

DEADLINE_S = 60.0
PHOTO_RULE = "TikTok takes JPEG or WebP photos"
SIZE_RULE = "TikTok takes photos up to 1080p"


@pytest.fixture
def composer(serve_app, emulator, oauth, store, tmp_path) -> Composer:
    """The shipped defaults: the folder media store in MEDIA_DIR, emulated (no VERIFIED_URL_PREFIXES)."""
    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    served = serve_app(MEDIA_DIR=str(tmp_path / "media"))
    composer = Composer(served, tmp_path)
    composer.page()
    return composer


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pictures")
    beach, phone, tall = the_three(folder)
    return {"beach": beach, "phone": phone, "tall": tall, "tall jpeg": jpeg(folder / "tall.jpg", 1086, 1448),
            "fine": jpeg(folder / "fine.jpg", 640, 480), "clip": make_video(folder / "clip.mp4", seconds=1.0),
            "notes": _notes(folder / "notes.png"), "90 Mpx": _header_only(folder / "wide.png", 10_000, 9_000),
            "400 Mpx": _header_only(folder / "vast.png", 20_000, 20_000)}


def _notes(path: Path) -> Path:
    path.write_text("these are notes, not a picture\n" * 50)
    return path


def _header_only(path: Path, width: int, height: int) -> Path:
    """A PNG that says it is ``width`` x ``height`` and holds no pixels: what Pillow reads before it decodes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def send(composer: Composer, path: Path, *, kind: str | None = "photo", open_id: str = ADA) -> requests.Response:
    """What compose.js does for one photo: start (saying it sends a picture), every slice, finish; the finish's
    answer, or the start's when it refused."""
    client = SliceClient(composer.web.url, composer.web.http, composer.csrf())
    body = {"name": path.name, "size": path.stat().st_size, **({"kind": kind} if kind else {})}
    started = client.call("POST", f"{START_PATH}?open_id={quote(open_id)}", body=body)
    if started.status_code != 201:
        return started
    plan = started.json()
    client.send(path, plan, range(plan["slices"]))
    return client.finish(plan["url"])


def kept_files(composer: Composer) -> list[str]:
    """What MEDIA_DIR holds, hidden folders aside (thumbnails, the store's names)."""
    return sorted(p.name for p in composer.media.iterdir() if not p.name.startswith(".")) \
        if composer.media.exists() else []


def photo_form(ids: list[str], **changes: str) -> dict[str, str]:
    """A photo post of kept files that passes every rule, scheduled ten minutes ahead unless ``changes`` say."""
    return {"open_id": ADA, "source": "photos", "photo_ids": " ".join(ids), "photo_cover": "2",
            "title": "Three places", "description": "A weekend", "tags": "#travel", "privacy": "SELF_ONLY",
            "allow_comment": "on", "action": "schedule", "zone": BERLIN, **changes}


# -- uploads ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("picture, size, kept_as, words", [
    ("beach", (1440, 1080), "beach.jpg", [f"converted from PNG to JPEG ({PHOTO_RULE}, not PNG)",
                                          f"resized from 4000 × 3000 to 1440 × 1080 px ({SIZE_RULE}"]),
    ("phone", (1080, 1440), "IMG_0002.jpg", [f"converted from HEIC to JPEG ({PHOTO_RULE}, not HEIC)",
                                             "resized from 1512 × 2016 to 1080 × 1440 px"]),
    ("tall", (1080, 1440), "tall.jpg", ["converted from PNG to JPEG", "resized from 1086 × 1448 to 1080 × 1440 px"]),
    ("tall jpeg", (1080, 1440), "tall.jpg", ["resized from 1086 × 1448 to 1080 × 1440 px"]),
    ("fine", (640, 480), "fine.jpg", []),
], ids=["png-4000x3000", "heic", "png-1086x1448", "jpeg-1086x1448", "jpeg-that-fits"])
def test_a_picture_is_made_fit_for_tiktok_and_the_answer_names_what_changed(composer, pictures, picture, size,
                                                                            kept_as, words):
    original = pictures[picture]
    answer = send(composer, original)
    assert answer.status_code == 200, answer.text
    photo = answer.json()
    assert (photo["kind"], photo["original_name"], photo["width"], photo["height"]) == \
           ("photo", original.name, *size)
    assert len(photo["changes"]) == len(words)
    for change, said in zip(photo["changes"], words):
        assert said in change, photo["changes"]
    if words:
        assert photo["summary"].startswith(f"{original.name} was changed for TikTok: converted" if "converted"
                                           in words[0] else f"{original.name} was changed for TikTok: resized")
    else:
        assert photo["summary"] == f"{original.name}: TikTok takes it as it is."
    assert kept_files(composer) == [photo["media_id"]]  # the kept JPEG only: no original, no part file
    assert re.fullmatch(r"[0-9a-f]{32}-" + re.escape(kept_as), photo["media_id"])
    kept = composer.media / photo["media_id"]
    with Image.open(kept) as image:
        assert (image.format, image.size) == ("JPEG", size)
    assert photo["size_bytes"] == kept.stat().st_size <= 20_000_000
    if not words:
        assert sha256_file(kept) == sha256_file(original)  # what TikTok takes stays byte for byte
    row = composer.store.media_file(photo["media_id"])
    assert (row.kind, row.original, row.width, row.height) == ("photo", original.name, *size)
    assert row.checks["changes"] == photo["changes"]
    thumb = composer.web.http.get(composer.web.url + photo["thumb_url"], timeout=15)
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/jpeg"
    preview = composer.web.http.get(composer.web.url + photo["preview_url"], timeout=15)
    assert preview.status_code == 200 and preview.content == kept.read_bytes()


@pytest.mark.parametrize("picture, kind, status, words", [
    ("notes", "photo", 422, "notes.png is not a picture this app can read"),
    ("clip", "photo", 422, "clip.mp4 is not a picture this app can read"),
    ("fine", None, 422, "fine.jpg is a picture, not a video: choose it under Photos"),
    ("90 Mpx", "photo", 413, "wide.png has more than 89 megapixels, more than this app converts safely"),
    ("400 Mpx", "photo", 413, "vast.png has more than 89 megapixels"),
], ids=["text-named-png", "a-video", "a-picture-sent-as-the-video", "90-megapixels", "400-megapixels"])
def test_a_file_that_is_not_what_the_page_said_is_refused_and_nothing_is_kept(composer, pictures, picture, kind,
                                                                             status, words):
    answer = send(composer, pictures[picture], kind=kind)
    assert answer.status_code == status and answer.headers["Content-Type"] == "application/json"
    assert words in answer.json()["error"]
    assert kept_files(composer) == [] and list(composer.media.glob(".upload-*")) == []
    assert composer.store.media_files(offset=0, limit=10) == []


def test_a_picture_over_the_cap_is_refused_at_the_start_before_a_byte(composer):
    client = SliceClient(composer.web.url, composer.web.http, composer.csrf())
    answer = client.call("POST", f"{START_PATH}?open_id={ADA}",
                         body={"name": "huge.png", "size": MAX_PICTURE_BYTES + 1, "kind": "photo"})
    assert answer.status_code == 413
    assert answer.json()["error"].startswith("huge.png is 200 MB (200,000,001 bytes), over the 200,000,000 bytes this "
                                            "app takes for one picture")
    assert list(composer.media.glob(".upload-*")) == []
    video = client.call("POST", f"{START_PATH}?open_id={ADA}", body={"name": "big.mp4", "size": MAX_PICTURE_BYTES + 1})
    assert video.status_code == 201  # a video of that size is fine: the cap is the picture's
    assert client.abandon(video.json()["url"]).status_code == 204


# -- the form -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("media_store", ["folder", "s3"])
def test_a_photo_post_of_files_names_the_keys_the_media_store_holds(serve_app, emulator, oauth, store, tmp_path,
                                                                   pictures, media_store, request):
    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    settings = {}
    if media_store == "s3":
        import boto3
        s3_server = request.getfixturevalue("s3_server")
        request.getfixturevalue("aws_env")
        requests.post(f"{s3_server}/moto-api/reset", timeout=5).raise_for_status()
        bucket = boto3.client("s3", endpoint_url=s3_server)
        bucket.create_bucket(Bucket="team-media")
        settings = {"MEDIA_STORE": "s3://team-media/tiktok", "AWS_ENDPOINT_URL_S3": s3_server}
    composer = Composer(serve_app(MEDIA_DIR=str(tmp_path / "media"), **settings), tmp_path)
    composer.page()
    chosen = [pictures["beach"], pictures["phone"], pictures["tall"]]
    answers = [send(composer, path).json() for path in chosen]
    ids = [answer["media_id"] for answer in answers]
    when, due = composer.in_ten_minutes()
    response = composer.post(**photo_form(ids, post_at_local=when))
    assert response.status_code == 302, Page(response.text).errors() or response.text[:2000]
    (post,) = composer.posts()
    kept = [composer.media / media_id for media_id in ids]
    keys = [sha256_file(path) + ".jpg" for path in kept]  # content keys of the converted JPEGs, in order
    assert post.entry["photo_media"] == keys
    assert (post.entry["photo_cover_index"], post.entry["title"], post.entry["description"]) == \
           (1, "Three places", "A weekend")
    assert "photo_urls" not in post.entry and post.due_at == due
    assert post.media_name == "3 photos: beach.png, IMG_0002.HEIC, tall.png"
    if media_store == "folder":
        media = FolderStore(composer.media)
        assert all(media.exists(key) and media.local_path(key).read_bytes() == path.read_bytes()
                   for key, path in zip(keys, kept))
        assert [media.stat(key).name for key in keys] == ["beach.jpg", "IMG_0002.jpg", "tall.jpg"]
    else:
        listed = bucket.list_objects_v2(Bucket="team-media")["Contents"]
        assert sorted(item["Key"] for item in listed) == sorted(f"tiktok/{key}" for key in keys)
        for key, path in zip(keys, kept):
            assert bucket.get_object(Bucket="team-media", Key=f"tiktok/{key}")["Body"].read() == path.read_bytes()
    flash = html.unescape(composer.web.get("/posts/").text)
    assert f"Added post {post.id}" in flash and "3 photos: beach.png, IMG_0002.HEIC, tall.png" in flash


@pytest.mark.parametrize("changes, field, words", [
    ({"photo_ids": "0123456789abcdef0123456789abcdef-gone.jpg"}, "photo_ids",
     "photo 1 is not on the server any more"),
    ({"photo_ids": "../user_tokens.json"}, "photo_ids", "photo 1 is not on the server any more"),
    ({"photo_urls": "https://cdn.example.com/a.jpg"}, "photo_urls", "photo files or photo addresses, not both"),
    ({"photo_cover": "4"}, "photo_cover", "the cover is photo 1 to 3"),
    ({"allow_duet": "on"}, "allow_duet", "photo posts have no duets"),
], ids=["unknown-id", "a-path", "files-and-addresses", "cover-past-the-end", "duets"])
def test_a_photo_form_breaking_a_rule_is_refused_keeps_its_photos_and_saves_nothing(composer, pictures, changes,
                                                                                   field, words):
    ids = [send(composer, pictures[name]).json()["media_id"] for name in ("beach", "fine", "tall")]
    before = composer.state()
    form = photo_form(ids, post_at_local=composer.in_ten_minutes()[0])
    if "photo_ids" in changes:
        changes = {"photo_ids": changes["photo_ids"] + " " + form["photo_ids"]}  # first, before the three kept
    response = composer.post(**{**form, **changes})
    assert response.status_code == 400
    page = Page(response.text)
    assert field in page.errors(), page.errors()
    assert words in html.unescape(response.text)
    assert composer.state() == before
    assert not any(KEY.fullmatch(path.name) for path in composer.media.iterdir())  # nothing put into the store
    shown = json.loads(html.unescape(page.ids["compose-form"]["data-photos"]))  # the list comes back as it was
    assert [photo["media_id"] for photo in shown] == ids
    assert shown[0]["changes"] and shown[0]["summary"].startswith("beach.png was changed for TikTok")


# -- typed addresses TikTok would pull --------------------------------------------------------------------------

@pytest.mark.parametrize("fields, field", [
    ({"source": "video_url", "video_url": "https://cdn.example.com/bread.mp4"}, "video_url"),
    ({"source": "photos", "photo_urls": "https://cdn.example.com/a.jpg\nhttps://cdn.example.com/b.jpg"},
     "photo_urls"),
], ids=["video-url", "photo-urls"])
def test_a_typed_address_outside_the_verified_prefixes_is_refused_in_tiktoks_words(composer, queued_state, fields,
                                                                                    field):
    """The shipped defaults (emulated): the only verified prefix is the app's own /published/."""
    before = queued_state
    form = {"open_id": ADA, "description": "Bread", "privacy": "SELF_ONLY", "action": "now", **fields}
    response = composer.post(**form)
    assert response.status_code == 400
    page = Page(response.text)
    assert page.errors() == [field]
    said = html.unescape(response.text)
    own = f"{composer.served.url}/published/"
    assert f"cdn.example.com is not under a domain or URL prefix verified for this app ({own}); TikTok would " \
           "refuse it (url_ownership_unverified)" in said
    if field == "photo_urls":
        assert "photo 1 (https://cdn.example.com/a.jpg): " in said
    assert composer.state() == before and composer.posts() == []


@pytest.fixture
def queued_state(composer):
    return composer.state()


def test_with_verified_url_prefixes_a_covered_address_is_saved_and_another_refused(serve_app, emulator, oauth,
                                                                                   store, tmp_path):
    link_account(emulator.url, store, oauth, ADA, scopes=SCOPES)
    composer = Composer(serve_app(MEDIA_DIR=str(tmp_path / "media"),
                                  VERIFIED_URL_PREFIXES="media.example.com,https://x.example.com/v/"), tmp_path)
    composer.page()
    when = composer.in_ten_minutes()[0]
    form = {"open_id": ADA, "source": "video_url", "privacy": "SELF_ONLY", "action": "schedule", "zone": BERLIN,
            "post_at_local": when}
    refused = composer.post(**form, video_url="https://x.example.com/w/clip.mp4")
    assert refused.status_code == 400 and Page(refused.text).errors() == ["video_url"]
    assert "x.example.com is not under a domain or URL prefix verified for this app (media.example.com, " \
           "https://x.example.com/v/" in html.unescape(refused.text) and composer.posts() == []
    saved = composer.post(**form, video_url="https://cdn.media.example.com/clip.mp4")
    assert saved.status_code == 302, Page(saved.text).errors()
    (post,) = composer.posts()
    assert post.entry["video_url"] == "https://cdn.media.example.com/clip.mp4"


# -- posted, with the shipped defaults ----------------------------------------------------------------------------

def test_post_now_publishes_the_converted_photos_the_emulator_pulls_them_and_they_are_withdrawn(composer, pictures,
                                                                                                remote):
    """The app's runner posts it: the photos published at the app's own /published/ (verified in the emulator, as
    ``python app.py`` tells the emulator it starts), pulled by the emulator, then withdrawn."""
    remote.verify_prefixes(composer.served.url + "/published/")
    ids = [send(composer, pictures[name]).json()["media_id"] for name in ("beach", "phone", "tall")]
    response = composer.post(**photo_form(ids, action="now", post_at_local=""))
    assert response.status_code == 302, Page(response.text).errors()
    (post,) = composer.posts()
    deadline = time.monotonic() + DEADLINE_S
    while composer.store.get(post.id).state != "posted":
        assert time.monotonic() < deadline, composer.store.get(post.id).record
        time.sleep(0.1)
    (made,) = remote.state()["posts"]
    converted = [composer.media / media_id for media_id in ids]
    assert (made["kind"], made["source"], made["status"]) == ("photo", "PULL_FROM_URL", "PUBLISH_COMPLETE")
    assert made["sha256"] == sha256_of(*converted)  # the converted JPEGs, byte for byte, in order
    assert made["post_info"]["title"] == "Three places"
    assert not (composer.media / ".published").exists() or not any((composer.media / ".published").iterdir())
    assert composer.store.get(post.id).record.publication is None
