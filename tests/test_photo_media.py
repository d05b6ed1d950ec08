"""Photo posts of media-store photos (``photo_media``): published under MEDIA_PUBLIC_URL for TikTok to pull, withdrawn
once TikTok has them; VERIFIED_URL_PREFIXES and MEDIA_PUBLIC_URL checked at start-up; the app's ``/published/``.

The posting flows run ``python -m tiktok post`` in its own process against the emulator over loopback HTTP: with the
folder store and the shipped defaults (the app, in a thread, serves ``/published/`` at its own address), and with an
S3 store on moto's server, whose published objects a small loopback server serves as a custom domain would. The
emulator pulls each photo over HTTP; the app's and the stand-in's request logs say what was fetched.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest
import requests

from tiktok.auth.tokens import Account, TokenStore
from tiktok.config import load_settings
from tiktok.emulator.serving import serve_in_thread
from tiktok.errors import ConfigError, StoreError
from tiktok.exitcodes import BAD_INPUT, ExitStatus
from tiktok.media.ownership import ownership_problem
from tiktok.media.publishing import (
    emulated_public_prefix, public_url, publisher_for, verified_properties,
)
from tiktok.media.store import FolderStore, MediaStoreSettings, open_media_store
from tiktok.posting.dryrun import dry_run
from tiktok.posting.failures import failure_of
from tiktok.posting.manifest import validate_manifest
from tiktok.posting.runner import RunOptions, run_queue
from tiktok.store.records import State, entry_key
from tiktok.store.sqlite import open_sqlite
from tiktok.web.app import create_app
from tiktok.web.queue_runner import runner_of
from tests.conftest import OffsetClock
from tests.emulator.posting_helpers import make_image
from tests.support.queue_workers import queue_post
from tests.test_commands import job_context
from tests.test_upload_cli import ADA, link

ROOT = Path(__file__).resolve().parents[1]
BUCKET, PREFIX = "photo-posts", "team/media"
A_KEY = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
DEADLINE_S = 60.0
PASSWORD = "correct horse battery staple"


# -- pieces ----------------------------------------------------------------------------------------------------------

class Recorder:
    """A WSGI app in front of another that logs each request: (method, path as sent, status, user agent)."""

    def __init__(self, app=None) -> None:
        self.app, self.seen = app, []

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            self.seen.append((environ["REQUEST_METHOD"], environ.get("RAW_URI") or environ["PATH_INFO"],
                              int(status.split()[0]), environ.get("HTTP_USER_AGENT", "")))
            return start_response(status, headers, exc_info)
        return self.app(environ, start)

    def fetched(self, start: str) -> list[tuple[str, int, str]]:
        return [(path, status, agent) for method, path, status, agent in self.seen if path.startswith(start)]


def emulator_env(emulator, folder: Path) -> dict[str, str]:
    """The settings a person has against this emulator: nothing about media (the shipped defaults)."""
    return {"TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
            "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(folder / "user_tokens.json")}


class App:
    """The app in a thread, behind a Recorder: it serves ``/published/`` from the folder it runs in."""

    def __init__(self, env: dict[str, str]) -> None:
        self.recorder = Recorder()
        self.server = serve_in_thread(self.recorder)
        self.url = self.server.url
        self.env = {**env, "PORT": str(self.server.port)}
        self.clock = OffsetClock()
        self.flask_app = create_app({**self.env, "CLOCK": self.clock})
        self.recorder.app = self.flask_app

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def folder(tmp_path, emulator, monkeypatch):
    """The project folder, as the current directory (MEDIA_DIR's default, media/, is here), accounts linked."""
    monkeypatch.chdir(tmp_path)
    link(tmp_path, emulator)
    return tmp_path


@pytest.fixture
def app(folder, emulator):
    served = App(emulator_env(emulator, folder))
    yield served
    served.stop()


def photos(folder: Path, count: int = 3) -> list[Path]:
    """Distinct JPEG photos TikTok takes (different sizes, so different bytes), with names people give them."""
    names = ["beach day.jpg", "été.jpg", "IMG_0003.JPG", "x.jpeg"][:count]
    made = []
    for n, name in enumerate(names):
        made.append(make_image(folder / f"photo-{n}.jpg", "mjpeg", width=640 + 16 * n, height=480))
        made[-1] = made[-1].rename(folder / name)
    return made


def post_command(folder: Path, env: dict[str, str], *args: str, popen: bool = False):
    """``python -m tiktok post`` in ``folder`` with ``env`` as its whole environment (plus PATH and HOME)."""
    command = [sys.executable, "-m", "tiktok", "post", "--json", "--poll-interval", "0.01", *args]
    environment = {"PATH": os.environ["PATH"], "HOME": str(folder), "PYTHONPATH": str(ROOT), **env}
    if popen:
        return subprocess.Popen(command, cwd=folder, env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True, timeout=120)


def write_manifest(folder: Path, entries: list[dict]) -> Path:
    path = folder / "videos_to_upload.json"
    path.write_text(json.dumps(entries))
    return path


def photo_entry(keys: list[str], **fields) -> dict:
    return {"user_id": ADA, "photo_media": keys, "photo_cover_index": 1, "title": "Three", "privacy": "SELF_ONLY",
            "description": "from the media store", **fields}


def digest_of(paths: list[Path]) -> str:
    """What the emulator records for a photo post: the SHA-256 of every photo's bytes, in order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def stored_posts(folder: Path) -> list:
    store = open_sqlite(folder / "tiktok.db", migrate=False)
    try:
        return list(store.every_post())
    finally:
        store.close()


def publications(folder: Path) -> list[Path]:
    root = folder / "media" / ".published"
    return sorted(root.iterdir()) if root.is_dir() else []


# -- the settings ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env, said", [
    ({"MEDIA_PUBLIC_URL": "https://posts.example.com/published"}, "MEDIA_PUBLIC_URL: 'https://posts.example.com/"
                                                                  "published' must end with '/'"),
    ({"MEDIA_PUBLIC_URL": "posts.example.com/published/"}, "MEDIA_PUBLIC_URL: 'posts.example.com/published/' is not "
                                                           "an address with https://"),
    ({"MEDIA_PUBLIC_URL": "ftp://posts.example.com/"}, "must start with https://"),
    ({"MEDIA_PUBLIC_URL": "https://93.184.216.34/p/"}, "must name a host, not an IP address"),
    ({"MEDIA_PUBLIC_URL": "http://posts.example.com/p/"}, "TikTok pulls only https"),
    ({"MEDIA_PUBLIC_URL": "https://posts.example.com/p/?sig=1/"}, "no ?query"),
    ({"MEDIA_PUBLIC_URL": "https://me:hunter2@posts.example.com/p/"}, "must not carry a user name or password"),
    ({"VERIFIED_URL_PREFIXES": "media.example.com, https://x.example.com/v"}, "VERIFIED_URL_PREFIXES: "
                                                                              "'https://x.example.com/v' must end"),
    ({"VERIFIED_URL_PREFIXES": "media.example.com/photos"}, "VERIFIED_URL_PREFIXES: 'media.example.com/photos' is "
                                                            "not a domain"),
    ({"VERIFIED_URL_PREFIXES": "10.0.0.7"}, "VERIFIED_URL_PREFIXES: a domain must be a host name, not an IP"),
    ({"VERIFIED_URL_PREFIXES": "media.example.com", "MEDIA_PUBLIC_URL": "https://posts.example.com/published/"},
     "MEDIA_PUBLIC_URL='https://posts.example.com/published/' is not under any of VERIFIED_URL_PREFIXES "
     "(media.example.com)"),
    ({"VERIFIED_URL_PREFIXES": "https://example.com/a/", "MEDIA_PUBLIC_URL": "https://example.com/b/"},
     "is not under any of VERIFIED_URL_PREFIXES"),
], ids=["no slash", "no scheme", "ftp", "an IP", "http", "a query", "credentials", "prefix without slash",
        "domain with a path", "an IP domain", "public URL not verified", "another prefix"])
def test_bad_media_settings_stop_the_start_naming_the_setting(env, said):
    with pytest.raises(ConfigError) as refused:
        load_settings(env)
    assert said in str(refused.value)
    assert "hunter2" not in str(refused.value)  # a credential in the address is never repeated


def test_http_on_loopback_is_for_the_emulator_only():
    local = {"MEDIA_PUBLIC_URL": "http://127.0.0.1:9000/published/"}
    assert load_settings(local).media.public_url == "http://127.0.0.1:9000/published/"
    with pytest.raises(ConfigError, match="MEDIA_PUBLIC_URL: TikTok cannot reach this machine's loopback"):
        load_settings({**local, "TIKTOK_CLIENT_KEY": "key", "TIKTOK_CLIENT_SECRET": "secret"})


def test_the_command_exits_2_naming_a_bad_setting(tmp_path):
    result = post_command(tmp_path, {"VERIFIED_URL_PREFIXES": "https://media.example.com"}, "--dry-run")
    assert result.returncode == 2, result.stderr
    assert "VERIFIED_URL_PREFIXES: 'https://media.example.com' must end with '/'" in result.stderr + result.stdout


def test_where_media_are_published_and_what_is_verified():
    shipped = load_settings({})  # emulated, nothing set: the app's own address
    assert public_url(shipped) == emulated_public_prefix(shipped) == "http://127.0.0.1:8000/published/"
    assert verified_properties(shipped) == ("http://127.0.0.1:8000/published/",)
    assert shipped.media.verified_prefixes == ()  # not set: manifests are checked as before
    assert emulated_public_prefix(load_settings({"PORT": "8123"})) == "http://127.0.0.1:8123/published/"
    real = {"TIKTOK_CLIENT_KEY": "key", "TIKTOK_CLIENT_SECRET": "secret"}
    assert public_url(load_settings(real)) is None and verified_properties(load_settings(real)) == ()
    own = load_settings({**real, "MEDIA_PUBLIC_URL": "https://posts.example.com/published/"})
    assert public_url(own) == "https://posts.example.com/published/" and emulated_public_prefix(own) is None
    assert verified_properties(own) == ("https://posts.example.com/published/",)  # the default: itself
    listed = load_settings({**real, "MEDIA_PUBLIC_URL": "https://media.example.com/",
                            "VERIFIED_URL_PREFIXES": "example.com, https://x.example.com/v/,example.com"})
    assert verified_properties(listed) == listed.media.verified_prefixes == ("example.com", "https://x.example.com/v/")


# -- the entry field and the manifest's URLs -------------------------------------------------------------------------

@pytest.mark.parametrize("entry, said", [
    ({"photo_media": [A_KEY + ".jpg"]}, None),
    ({"photo_media": [A_KEY + ".jpg", A_KEY + ".webp"], "photo_cover_index": 1, "title": "Two"}, None),
    ({"photo_media": [A_KEY + ".jpg"], "draft": True}, None),
    ({"photo_media": []}, 'field "photo_media": needs 1 to 35 photos, got 0'),
    ({"photo_media": [A_KEY + ".jpg"] * 36}, "needs 1 to 35 photos, got 36"),
    ({"photo_media": A_KEY + ".jpg"}, "expected a list of media store keys, got string"),
    ({"photo_media": ["beach.jpg"]}, 'item 0: must be a media store key'),
    ({"photo_media": [A_KEY + ".jpg", "../" + A_KEY]}, 'item 1: must be a media store key'),
    ({"photo_media": ["https://example.com/a.jpg"]}, 'a photo on the web goes in "photo_urls"'),
    ({"photo_media": [A_KEY + ".jpg"], "photo_cover_index": 1}, "is 1 but there are only 1 photos"),
    ({"photo_media": [A_KEY + ".jpg"], "photo_urls": ["https://example.com/a.jpg"]},
     'needs exactly one media source: "video_path", "video_media", "video_url", "photo_urls" or "photo_media"; got '
     '"photo_urls" and "photo_media"'),
    ({"video_media": A_KEY + ".mp4", "photo_cover_index": 0}, 'only applies with "photo_urls" or "photo_media"'),
], ids=["one", "two with cover and title", "draft", "none", "36", "not a list", "a file name", "a path", "a URL",
        "cover past the end", "two sources", "cover on a video"])
def test_photo_media_names_photos_of_the_store_by_their_keys(entry, said):
    result = validate_manifest([{"user_id": "u", **entry}], source="m.json")
    if said is None:
        [request] = result.entries
        assert (request.media_type, request.source, request.photo_count) == ("PHOTO", "PULL_FROM_URL",
                                                                             len(entry["photo_media"]))
        assert request.photo_urls == () and request.caption_limit == 4000
        assert validate_manifest([request.to_entry()], source="m.json").entries == [request]  # as the store keeps it
    else:
        assert not result.entries and said in " ".join(p.message for p in result.problems), result.problems


def test_entries_keep_their_identity():
    """The key of a photo_urls entry is what it was before photo_media existed; a photo_media entry's key is its
    content's, the same however often it is read back."""
    urls = {"user_id": "u", "photo_urls": ["https://media.example.com/a.jpg"], "title": "T"}
    [request] = validate_manifest([urls], source="m.json").entries
    assert request.to_entry() == {**urls, "photo_cover_index": 0}  # as earlier versions stored and keyed it
    assert entry_key(request.to_entry()) == "5dd903751cb8cc0d2dae"  # the committed code's key
    stored = {"user_id": "u", "photo_media": [A_KEY + ".jpg"]}
    [first] = validate_manifest([stored], source="m.json").entries
    [again] = validate_manifest([first.to_entry()], source="m.json").entries
    assert entry_key(first.to_entry()) == entry_key(again.to_entry()) != entry_key(request.to_entry())


def test_a_pulled_url_outside_verified_url_prefixes_is_refused_in_tiktoks_words():
    verified = load_settings({"VERIFIED_URL_PREFIXES": "media.example.com,https://x.example.com/v/"}
                             ).media.verified_prefixes
    entries = [{"user_id": "u", "photo_urls": ["https://cdn.media.example.com/a.jpg", "https://elsewhere.net/b.jpg"]},
               {"user_id": "u", "video_url": "https://x.example.com/w/clip.mp4"},
               {"user_id": "u", "video_url": "https://x.example.com/v/clip.mp4"},
               {"user_id": "u", "photo_urls": ["https://media.example.com/a.jpg"]}]
    result = validate_manifest(entries, source="m.json", verified=verified)
    assert [e.index for e in result.entries] == [2, 3]
    first, second = result.problems
    assert first.field == "photo_urls" and first.message.endswith(
        'field "photo_urls": item 1: ' + ownership_problem("https://elsewhere.net/b.jpg", verified))
    assert "url_ownership_unverified" in first.message and "elsewhere.net is not under" in first.message
    assert second.field == "video_url" and ownership_problem("https://x.example.com/w/clip.mp4", verified) \
        in second.message
    shipped = load_settings({}).media.verified_prefixes  # VERIFIED_URL_PREFIXES not set: kept, as before
    assert len(validate_manifest(entries, source="m.json", verified=shipped).entries) == 4


def test_the_dry_run_refuses_an_unverified_url_and_plans_a_photo_post_with_the_defaults(folder, emulator):
    store = FolderStore(folder / "media")
    keys = [store.put_file(path) for path in photos(folder, 2)]
    manifest = write_manifest(folder, [photo_entry(keys),
                                       {"user_id": ADA, "photo_urls": ["https://elsewhere.net/b.jpg"]}])
    lines: list[str] = []
    shipped = load_settings(emulator_env(emulator, folder))
    assert dry_run(manifest, shipped, privacy=None, chunk_size=10_000_000, say=lines.append) == ExitStatus.OK
    said = "\n".join(lines)
    assert ("2 photos from MEDIA_DIR media: published at http://127.0.0.1:8000/published/ when the post is made"
            in said), said
    listed = load_settings({**emulator_env(emulator, folder), "VERIFIED_URL_PREFIXES": "media.example.com"})
    lines.clear()
    assert dry_run(manifest, listed, privacy=None, chunk_size=10_000_000, say=lines.append) == ExitStatus.BAD_INPUT
    refused = next(line for line in lines if "entry 2" in line and "refuse it" in line)
    assert ownership_problem("https://elsewhere.net/b.jpg", ("media.example.com",)) in refused
    assert not publications(folder)  # a dry run publishes nothing


# -- the app's /published/ -------------------------------------------------------------------------------------------

def test_published_serves_only_the_files_of_live_publications_without_the_password(folder, emulator):
    served = App({**emulator_env(emulator, folder), "APP_PASSWORD": PASSWORD})
    try:
        store = FolderStore(folder / "media")
        beach, other = photos(folder, 2)
        key = store.put_file(beach)
        publisher = publisher_for(store, served.url + "/published/")
        live = publisher.publish([(key, beach.name)])
        (url,) = live.urls
        answer = requests.get(url, timeout=10, allow_redirects=False)
        assert answer.status_code == 200 and answer.content == beach.read_bytes()  # no sign-in asked
        assert answer.headers["Content-Type"] == "image/jpeg" and answer.headers["Cache-Control"] == "no-store"
        assert url == f"{served.url}/published/{live.token}/1-beach-day.jpg"
        token_folder = folder / "media" / ".published" / live.token
        (token_folder / ".hidden.jpg").write_bytes(b"hidden")
        (token_folder / "2-link.jpg").symlink_to(folder / other.name)
        refused = {
            "the listing": "/published/", "a publication's listing": f"/published/{live.token}/",
            "a hidden file": f"/published/{live.token}/.hidden.jpg",
            "a link": f"/published/{live.token}/2-link.jpg",
            "another token": f"/published/{'0' * 32}/1-beach-day.jpg",
            "not a token": f"/published/{live.token[:-1]}/1-beach-day.jpg",
            "a stored object": f"/published/{live.token}/{key}",
            "a stored object beside it": f"/published/{live.token}/..%2F..%2F{key}",
            "a path up": f"/published/{live.token}/%2E%2E/%2E%2E/{key}",
            "the media folder": f"/published/{live.token}/..%2F..%2Fuser_tokens.json",
        }
        for why, path in refused.items():
            got = requests.get(served.url + path, timeout=10, allow_redirects=False)
            if got.status_code == 302:  # no such route: the sign-in page, like any other unknown address
                assert got.headers["Location"].startswith("/app-login/"), why
                continue
            assert got.status_code == 404 and got.headers["Content-Type"].startswith("text/html"), why
            assert "1-beach-day" not in got.text and ".hidden" not in got.text and live.token not in got.text, why
            assert got.content != b"hidden", why
        publisher.withdraw(live.token)
        assert requests.get(url, timeout=10).status_code == 404  # withdrawn: gone
        assert requests.get(served.url + "/posts/", timeout=10, allow_redirects=False).status_code == 302  # gated
    finally:
        served.stop()


def test_published_streams_a_buckets_publication_when_the_app_fronts_it(tmp_path, emulator, s3_server, aws_env,
                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=BUCKET)
    env = {**emulator_env(emulator, tmp_path), "MEDIA_STORE": f"s3://{BUCKET}/{PREFIX}",
           "AWS_ENDPOINT_URL_S3": s3_server}
    served = App(env)
    try:
        store = open_media_store(MediaStoreSettings.from_settings(load_settings(served.env)))
        (photo,) = photos(tmp_path, 1)
        live = publisher_for(store, public_url(load_settings(served.env))).publish([(store.put_file(photo), "a.jpg")])
        assert live.urls[0].startswith(f"{served.url}/published/{live.token}/")  # emulated: the app's own address
        answer = requests.get(live.urls[0], timeout=10)
        assert answer.status_code == 200 and answer.content == photo.read_bytes()
        assert answer.headers["Content-Type"] == "image/jpeg"
        assert requests.get(f"{served.url}/published/{'0' * 32}/1-a.jpg", timeout=10).status_code == 404
        publisher_for(store, "").withdraw(live.token)
        assert requests.get(live.urls[0], timeout=10).status_code == 404
    finally:
        served.stop()


# -- posting ---------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_photo_post_of_stored_photos_is_pulled_from_the_app_and_withdrawn(folder, app, emulator, remote):
    """The shipped defaults: no MEDIA_PUBLIC_URL, the folder store, the app's own /published/ (verified in the
    emulator, as the app does for the emulator it starts)."""
    store = FolderStore(folder / "media")
    made = photos(folder)
    keys = [store.put_file(path) for path in made]
    remote.verify_prefixes(app.url + "/published/")
    write_manifest(folder, [photo_entry(keys)])
    result = post_command(folder, app.env)
    assert result.returncode == 0, result.stdout + result.stderr
    [outcome] = json.loads(result.stdout)["outcomes"]
    assert (outcome["status"], outcome["state"], outcome["media"]) == ("done", "posted", "3 photos"), outcome
    [made_post] = remote.state()["posts"]
    assert (made_post["kind"], made_post["source"], made_post["status"]) == ("photo", "PULL_FROM_URL",
                                                                            "PUBLISH_COMPLETE")
    assert made_post["sha256"] == digest_of(made)  # every photo, byte for byte, in order
    assert made_post["post_info"]["title"] == "Three"
    fetched = app.recorder.fetched("/published/")
    assert [status for _, status, _ in fetched] == [200, 200, 200], fetched
    assert all(agent.startswith("python-requests") for _, _, agent in fetched)  # the emulator's own pull
    token = fetched[0][0].split("/")[2]
    assert [path for path, _, _ in fetched] == [f"/published/{token}/1-beach-day.jpg",
                                                f"/published/{token}/2-{quote('été')}.jpg",
                                                f"/published/{token}/3-IMG_0003.JPG"]
    assert publications(folder) == []  # withdrawn once TikTok had them
    for path, _, _ in fetched:
        assert requests.get(app.url + path, timeout=10).status_code == 404
    [post] = stored_posts(folder)
    assert post.entry["photo_media"] == keys and post.record.publication is None
    assert all(store.exists(key) for key in keys)  # the store keeps the photos


@pytest.mark.slow
def test_a_photo_post_from_an_s3_store_is_pulled_from_the_custom_domain_and_withdrawn(folder, emulator, remote,
                                                                                      s3_server, aws_env):
    client = boto3.client("s3", endpoint_url=s3_server)
    requests.post(f"{s3_server}/moto-api/reset", timeout=5).raise_for_status()
    client.create_bucket(Bucket=BUCKET)

    def custom_domain(environ, start_response):
        """What a CDN with the bucket's <prefix>/published/ folder as its origin answers."""
        key = f"{PREFIX}/published" + environ["PATH_INFO"].encode("latin-1").decode("utf-8")
        try:
            got = client.get_object(Bucket=BUCKET, Key=key)
        except client.exceptions.NoSuchKey:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", got["ContentType"]), ("Content-Length", str(got["ContentLength"]))])
        return [got["Body"].read()]

    domain = Recorder(custom_domain)
    host = serve_in_thread(domain)
    try:
        env = {**emulator_env(emulator, folder), **aws_env, "MEDIA_STORE": f"s3://{BUCKET}/{PREFIX}",
               "AWS_ENDPOINT_URL_S3": s3_server, "MEDIA_PUBLIC_URL": host.url + "/"}
        store = open_media_store(MediaStoreSettings.from_settings(load_settings(env)))
        made = photos(folder, 2)
        keys = [store.put_file(path) for path in made]
        remote.verify_prefixes(host.url + "/")
        write_manifest(folder, [photo_entry(keys)])
        result = post_command(folder, env)
        assert result.returncode == 0, result.stdout + result.stderr
        [outcome] = json.loads(result.stdout)["outcomes"]
        assert (outcome["status"], outcome["state"]) == ("done", "posted"), outcome
        [made_post] = remote.state()["posts"]
        assert made_post["status"] == "PUBLISH_COMPLETE" and made_post["sha256"] == digest_of(made)
        fetched = domain.fetched("/")
        assert [status for _, status, _ in fetched] == [200, 200], fetched
        left = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/published/")
        assert left.get("KeyCount", 0) == 0  # withdrawn once TikTok had them
        for path, _, _ in fetched:
            assert requests.get(host.url + path, timeout=10).status_code == 404
        assert all(store.exists(key) for key in keys)
        assert stored_posts(folder)[0].record.publication is None
    finally:
        host.shutdown()


@pytest.mark.slow
def test_an_unverified_public_url_fails_the_post_in_plain_words_and_withdraws_it(folder, app, emulator, remote):
    store = FolderStore(folder / "media")
    keys = [store.put_file(path) for path in photos(folder, 2)]
    write_manifest(folder, [photo_entry(keys)])  # the app's prefix was never verified in the emulator
    result = post_command(folder, app.env)
    assert result.returncode == 1, result.stdout + result.stderr
    [outcome] = json.loads(result.stdout)["outcomes"]
    assert (outcome["status"], outcome["error_code"]) == ("failed", "url_ownership_unverified"), outcome
    assert outcome["detail"].startswith(f"TikTok will not pull the photos from {app.url}/published/: it is not "
                                        "under a domain or URL prefix verified for this app")
    assert "MEDIA_PUBLIC_URL" in outcome["detail"] and "Media TikTok pulls" in outcome["detail"]
    assert remote.state()["posts"] == [] and app.recorder.fetched("/published/") == []
    assert publications(folder) == []  # refused at init: withdrawn at once
    [post] = stored_posts(folder)
    assert post.record.state == State.FAILED and post.record.publication is None
    failure = failure_of(post.record)
    assert failure.code == "url_ownership_unverified" and "pull the media from" in failure.reason
    assert "url_ownership_unverified" not in failure.reason and "url_ownership_unverified" in failure.details


@pytest.mark.slow
def test_a_killed_runs_publication_is_withdrawn_by_the_run_that_resumes_the_post(folder, app, emulator, remote):
    emulator.config.processing_polls = 1_000_000  # TikTok takes its time: the post stays processing
    store = FolderStore(folder / "media")
    made = photos(folder, 2)
    keys = [store.put_file(path) for path in made]
    remote.verify_prefixes(app.url + "/published/")
    write_manifest(folder, [photo_entry(keys)])
    first = post_command(folder, app.env, popen=True)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while True:  # the record says where the photos are published, and TikTok has pulled them
            try:
                posts = stored_posts(folder) if (folder / "tiktok.db").exists() else []
            except StoreError:  # the run is creating it
                posts = []
            record = posts[0].record if posts else None
            if record is not None and record.publication and len(app.recorder.fetched("/published/")) == 2:
                break
            assert time.monotonic() < deadline and first.poll() is None, first.communicate()
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    assert record.state == State.PROCESSING and [p.name for p in publications(folder)] == [record.publication]
    with emulator.state.lock:  # TikTok finishes processing it
        for made_post in emulator.state.posts.values():
            made_post.polls_left = 0
    result = post_command(folder, app.env)
    assert result.returncode == 0, result.stdout + result.stderr
    [outcome] = json.loads(result.stdout)["outcomes"]
    assert (outcome["status"], outcome["state"]) == ("done", "posted") and len(remote.state()["posts"]) == 1
    assert publications(folder) == []
    assert requests.get(app.url + app.recorder.fetched("/published/")[0][0], timeout=10).status_code == 404
    assert stored_posts(folder)[0].record.publication is None


def test_without_media_public_url_against_tiktok_a_photo_post_stops_before_anything_is_sent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # any call to TikTok would fail here, never leave
    settings = load_settings({"TIKTOK_CLIENT_KEY": "key", "TIKTOK_CLIENT_SECRET": "secret",
                              "TOKENS_FILE": str(tmp_path / "user_tokens.json")})
    now = time.time()
    TokenStore(tmp_path / "user_tokens.json").put(Account(open_id=ADA, access_token="a" * 40, refresh_token="r" * 40,
                                                          expires_at=now + 86400, refresh_expires_at=now + 86400 * 300,
                                                          scopes=("user.info.basic", "video.publish")))
    store = open_sqlite(tmp_path / "tiktok.db")
    try:
        photo = photos(tmp_path, 1)[0]
        post = queue_post(store, photo_entry([FolderStore(tmp_path / "media").put_file(photo)], photo_cover_index=0))
        report = run_queue(store, settings, RunOptions(poll_interval_s=0.01), clock=time.time)
        [outcome] = report.outcomes
        record = store.get(post.id).record
    finally:
        store.close()
    assert outcome.status == BAD_INPUT, outcome
    assert 'field "photo_media"' in outcome.detail and "MEDIA_PUBLIC_URL" in outcome.detail
    assert "is not set" in outcome.detail and "Media TikTok pulls" in outcome.detail
    assert record.state == State.FAILED and not record.needs_person  # tried again by itself once it is set
    assert record.publish_id is None and publications(tmp_path) == []


# -- publications left behind ----------------------------------------------------------------------------------------

def test_the_apps_runner_and_the_workers_sweep_publications_left_for_a_day(folder, app, emulator):
    store = FolderStore(folder / "media")
    key = store.put_file(photos(folder, 1)[0])
    publisher = publisher_for(store, app.url + "/published/")
    old = publisher.publish([(key, "old.jpg")])
    runner = runner_of(app.flask_app)
    assert runner.kick() and runner.join(DEADLINE_S)
    assert [p.name for p in publications(folder)] == [old.token]  # a day has not passed
    app.clock.advance(86400 + 120)  # a day and two minutes later, by the app's clock
    young = publisher.publish([(key, "young.jpg")])
    os.utime(folder / "media" / ".published" / young.token, (app.clock(), app.clock()))  # made "now"
    assert runner.kick() and runner.join(DEADLINE_S)
    assert [p.name for p in publications(folder)] == [young.token]  # the one left for a day went
    stale = time.time() - 2 * 86400
    os.utime(folder / "media" / ".published" / young.token, (stale, stale))
    from tiktok.jobs import tasks  # the workers sweep with their refresh task, every 10 minutes

    settings = load_settings({**app.env, "TOKENS_FILE": str(folder / "no-accounts.json")})
    assert tasks.refresh_tokens(job_context(settings, "tiktok:refresh_tokens"), 0) == "no accounts"
    assert publications(folder) == [] and store.exists(key)  # the photo itself stays in the store
