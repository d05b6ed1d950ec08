"""No bad value crashes a run (issue 19): each is a clear error for its entry, field or setting, with the right exit
code and no traceback, and the good entries of the same manifest are still posted.

- Manifest values, through the real ``upload_to_tiktok.py`` against the emulator: one manifest holds every bad entry
  of the table between good ones, so one run shows each refusal by entry and field while the good entries post.
- Whole files that cannot be read at all (nested 100,000 deep, a number of 5,000 digits): exit 2 naming the file.
- The composer's form (the same checks, through ``validate_manifest``), over real HTTP: 400 naming the form field.
- Settings, through the real parser (:func:`tiktok.config.load_settings`, the WORKER_* schedule too) and
  the real commands: exit 2 and one line naming the setting and the form it takes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tiktok.config import load_settings, read_environment
from tiktok.emulator.server import start_emulator
from tiktok.errors import ConfigError
from tests.media_fixtures import make_video
from tests.test_composer_web import (  # noqa: F401 (clip and composer are fixtures)
    Page, clip, composer, valid_form,
)
from tests.test_upload_cli import ADA, BO, link, run, stored_posts

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-pw"  # the password inside the credential URLs: never printed, stored or sent
PHOTO = "https://cdn.example.com/p/1.jpg"


def worker_settings(env):
    """The WORKER_* settings of ``env``, checked as the worker checks them when it starts."""
    return load_settings(env).worker


def video(**fields) -> dict:
    return {"user_id": ADA, "video_path": "clip.mp4", "description": "bad", **fields}


def photo(**fields) -> dict:
    return {"user_id": ADA, "photo_urls": [PHOTO], "description": "bad", **fields}


# (id, entry, the field the message names, what it says). Each entry is bad in exactly one way.
BAD_ENTRIES = [
    ("nul-in-video-path", video(video_path="clip\x00.mp4"), "video_path", "NUL byte"),
    ("nul-in-description", video(description="bread\x00"), "description", "NUL byte"),
    ("nul-in-user-id", video(user_id=ADA + "\x00"), "user_id", "NUL byte"),
    ("nul-in-tag", video(tags=["ok", "ba\x00d"]), "tags", "item 1: contains a NUL byte"),
    ("nul-in-photo-title", photo(title="loaf\x00"), "title", "NUL byte"),
    ("nul-in-photo-url", photo(photo_urls=["https://cdn.example.com/\x00.jpg"]), "photo_urls", "NUL byte"),
    ("surrogate-in-description", video(description="bread \ud83d crumbs"), "description", "surrogate pair (\\ud83d)"),
    ("surrogate-in-title", photo(title="\udc00loaf"), "title", "surrogate pair (\\udc00)"),
    ("surrogate-in-tag", video(tags=["\ud800"]), "tags", "item 0: contains half of a UTF-16 surrogate pair"),
    ("surrogate-in-field-name", video(**{"\ud800colour": "red"}), "\\ud800colour", "unknown field"),
    ("post-at-year-9999-offset", video(post_at="9999-12-31T23:00:00-05:00"), "post_at", "is out of range"),
    ("post-at-year-9999", video(post_at="9999-12-31T00:00:00Z"), "post_at", "more than five years ahead"),
    ("post-at-year-0001", video(post_at="0001-01-01T00:00:00+01:00"), "post_at", "is out of range"),
    ("post-at-1970", video(post_at="1970-01-01T00:00:00Z"), "post_at", "from 2000-01-01"),
    ("video-url-with-password", {"user_id": ADA, "video_url": f"https://user:{SECRET}@cdn.example.com/v.mp4"},
     "video_url", "must not carry a user name or password"),
    ("video-url-with-user", {"user_id": ADA, "video_url": "https://someone@cdn.example.com/v.mp4"},
     "video_url", "must not carry a user name or password"),
    ("photo-url-with-password", photo(photo_urls=[PHOTO, f"https://me:{SECRET}@cdn.example.com/2.jpg"]),
     "photo_urls", "item 1: must not carry a user name or password"),
    ("video-url-broken-ipv6", {"user_id": ADA, "video_url": "https://[::1/v.mp4"}, "video_url", "not a valid URL"),
    ("cover-ms-10-to-the-30", video(video_cover_timestamp_ms=10**30), "video_cover_timestamp_ms",
     "at most 2,147,483,647"),
    ("cover-ms-just-over-int32", video(video_cover_timestamp_ms=2**31), "video_cover_timestamp_ms",
     "at most 2,147,483,647 (TikTok takes a 32-bit number of milliseconds), got 2,147,483,648"),
    ("photo-cover-index-10-to-the-30", photo(photo_cover_index=10**30), "photo_cover_index", "at most 34"),
]
GOOD = [{"user_id": ADA, "video_path": "clip.mp4", "description": "good one", "privacy": "SELF_ONLY"},
        {"user_id": BO, "video_path": "clip.mp4", "description": "good two"},
        {"user_id": BO, "video_path": "clip.mp4", "description": "good three", "tags": ["last"]}]


class ManifestRun:
    """One real run of upload_to_tiktok.py over a manifest of every bad entry between good ones."""

    def __init__(self, folder: Path, emulator) -> None:
        self.entries = [GOOD[0], *(entry for _, entry, _, _ in BAD_ENTRIES[:10]), GOOD[1],
                        *(entry for _, entry, _, _ in BAD_ENTRIES[10:]), GOOD[2]]
        (folder / "videos_to_upload.json").write_text(json.dumps(self.entries))
        self.result = run(folder, emulator, "--json", "--poll-interval", "0.01")
        self.report = json.loads(self.result.stdout)
        self.output = self.result.stdout + self.result.stderr
        self.state = emulator.state.snapshot()
        self.stored = stored_posts(folder)

    def number_of(self, entry: dict) -> int:
        return next(i for i, e in enumerate(self.entries) if e is entry) + 1

    def problem_of(self, entry: dict) -> list[str]:
        return [p for p in self.report["problems"] if f": entry {self.number_of(entry)} (" in p]


@pytest.fixture(scope="module")
def manifest_run(tmp_path_factory) -> ManifestRun:
    folder = tmp_path_factory.mktemp("bad-values")
    with start_emulator() as emulator:
        link(folder, emulator)
        make_video(folder / "clip.mp4")
        yield ManifestRun(folder, emulator)


@pytest.mark.slow
def test_the_run_exits_2_without_a_traceback_and_posts_every_good_entry(manifest_run):
    result = manifest_run.result
    assert result.returncode == 2, manifest_run.output[-3000:]  # bad input wins over the posts that went out
    assert "Traceback" not in manifest_run.output
    outcomes = manifest_run.report["outcomes"]
    assert sorted(o["status"] for o in outcomes) == ["done"] * len(GOOD), outcomes
    assert len(manifest_run.state["posts"]) == len(GOOD)  # only the good ones reached TikTok
    assert sorted(p.entry["description"] for p in manifest_run.stored) == sorted(e["description"] for e in GOOD)
    assert {p.state for p in manifest_run.stored} == {"posted"}
    assert len(manifest_run.report["problems"]) == len(BAD_ENTRIES)  # one error per bad entry, nothing else


@pytest.mark.parametrize("entry, field, needle", [pytest.param(e, f, n, id=i) for i, e, f, n in BAD_ENTRIES])
def test_each_bad_value_is_an_error_naming_its_entry_and_field(manifest_run, entry, field, needle):
    (problem,) = manifest_run.problem_of(entry)
    assert f'field "{field}": ' in problem and needle in problem, problem
    assert problem.startswith(f"videos_to_upload.json: entry {manifest_run.number_of(entry)} (")
    assert f"error: {problem}" in manifest_run.result.stderr  # said to the person too, as one line
    assert problem.isprintable()  # escaped: no NUL, surrogate or control character reaches the terminal


def test_a_credential_in_a_media_url_is_never_repeated_sent_or_stored(manifest_run):
    assert SECRET not in manifest_run.output
    assert SECRET not in json.dumps(manifest_run.state)
    assert all(SECRET not in json.dumps(p.entry) for p in manifest_run.stored)


@pytest.mark.slow
@pytest.mark.parametrize("content, needle", [
    pytest.param("[" * 100_000 + "]" * 100_000, "nested too deeply to read", id="nested-100000-deep"),
    pytest.param('[{"user_id": "x", "video_path": "clip.mp4", "video_cover_timestamp_ms": ' + "9" * 5000 + "}]",
                 "holds a number too long to read", id="a-number-of-5000-digits"),
])
def test_a_file_that_cannot_be_read_is_exit_2_naming_it(tmp_path, emulator, remote, content, needle):
    link(tmp_path, emulator, users=(ADA,))
    (tmp_path / "videos_to_upload.json").write_text(content)
    result = run(tmp_path, emulator)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"error: videos_to_upload.json: {needle}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr and "RecursionError" not in result.stdout + result.stderr
    assert remote.state()["posts"] == []


# -- the composer: the same checks on the form, over HTTP ------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("changes, field", [
    pytest.param({"description": "bread\x00"}, "description", id="nul-in-description"),
    pytest.param({"tags": "#ok #ba\x00d"}, "tags", id="nul-in-tag"),
    pytest.param({"action": "schedule", "post_at_local": "9999-12-31T23:59", "offset": "-05:00"}, "post_at_local",
                 id="post-at-year-9999-offset"),
    pytest.param({"action": "schedule", "post_at_local": "9999-12-31T23:59", "offset": "Z"}, "post_at_local",
                 id="post-at-year-9999"),
    pytest.param({"action": "schedule", "post_at_local": "0001-01-01T00:00", "offset": "+01:00"}, "post_at_local",
                 id="post-at-year-0001"),
    pytest.param({"source": "video_url", "video_url": f"https://user:{SECRET}@cdn.example.com/v.mp4"}, "video_url",
                 id="video-url-with-password"),
    pytest.param({"source": "photos", "photo_urls": f"{PHOTO}\nhttps://me:{SECRET}@cdn.example.com/2.jpg"},
                 "photo_urls", id="photo-url-with-password"),
    pytest.param({"source": "photos", "photo_urls": PHOTO, "title": "loaf\x00"}, "title", id="nul-in-photo-title"),
    pytest.param({"source": "photos", "photo_urls": PHOTO, "photo_cover": "\u00b2"}, "photo_cover",
                 id="photo-cover-superscript-two"),
    pytest.param({"source": "photos", "photo_urls": PHOTO, "photo_cover": "9" * 5000}, "photo_cover",
                 id="photo-cover-5000-digits"),
])
def test_the_composer_refuses_each_bad_value_naming_its_field(composer, clip, changes, field):
    composer.page()
    media_id = composer.upload(clip).json()["media_id"]
    before = composer.state()
    response = composer.post(**valid_form(media_id, **changes))
    assert response.status_code == 400, response.text[-2000:]
    assert field in Page(response.text).errors(), Page(response.text).errors()
    assert "Nothing was added" in response.text and "Traceback" not in response.text
    messages = re.findall(r'<li data-field="[^"]+">(.*?)</li>', response.text, re.S)
    assert messages and not any(SECRET in m for m in messages)  # (the form keeps what was typed, for mending)
    assert composer.state() == before


# -- settings: the real parser, then the real commands ---------------------------------------------------------------

BAD_SETTINGS = [
    ({"QUEUE_TICK_S": "nan"}, "QUEUE_TICK_S='nan' is out of range: use 0 (off) or a number of seconds"),
    ({"QUEUE_TICK_S": "inf"}, "QUEUE_TICK_S='inf' is out of range"),
    ({"QUEUE_TICK_S": "-1"}, "QUEUE_TICK_S='-1' is out of range"),
    ({"QUEUE_TICK_S": "0.001"}, "QUEUE_TICK_S='0.001' is out of range: use 0 (off) or a number of seconds from 0.1"),
    ({"QUEUE_TICK_S": "abc"}, "QUEUE_TICK_S='abc' is not a number of seconds: use 0 (off)"),
    ({"PORT": "0"}, "PORT=0 is not a TCP port: use a whole number from 1 to 65535"),
    ({"PORT": "65536"}, "PORT=65536 is not a TCP port"),
    ({"PORT": "http"}, "PORT='http' is not a whole number: use a TCP port from 1 to 65535"),
    ({"TIKTOK_EMULATOR_PORT": "0"}, "TIKTOK_EMULATOR_PORT=0 is not a TCP port"),
    ({"TOKENS_FILE": "/"}, "TOKENS_FILE='/' is a folder: give the path of a file, such as /user_tokens.json"),
    ({"STORE_FILE": "/"}, "STORE_FILE='/' is a folder: give the path of a file, such as /tiktok.db"),
    ({"MANIFEST_FILE": "/"}, "MANIFEST_FILE='/' is a folder"),
    ({"TOKENS_FILE": "/etc/passwd/tokens.json"}, "is inside '/etc/passwd', which is a file, not a folder"),
    ({"MEDIA_DIR": "/etc/passwd"}, "MEDIA_DIR='/etc/passwd' is a file: give a folder"),
    ({"TOKENS_FILE": "tok\x00ens.json"}, "TOKENS_FILE contains a NUL byte"),
    ({"STORE_FILE": "s" * 5000}, "cannot be used as a path (File name too long)"),
    ({"POST_GRACE": "nan"}, "POST_GRACE='nan' is not a duration: use a duration such as 90s, 15m, 2h or 1d"),
    ({"POST_GRACE": "inf"}, "POST_GRACE='inf' is not a duration"),
    ({"POST_GRACE": "-5m"}, "POST_GRACE='-5m' is not a duration"),
    ({"POST_GRACE": "400d"}, "POST_GRACE='400d' is out of range: use a duration such as 90s, 15m, 2h or 1d (at "
                             "most 365d)"),
    ({"POST_GRACE": "soon"}, "POST_GRACE='soon' is not a duration"),
    ({"TIKTOK_API_BASE": "open.tiktokapis.com"}, "TIKTOK_API_BASE='open.tiktokapis.com' is not a web address: use "
                                                 "http:// or https://"),
    ({"TIKTOK_AUTH_URL": "https://[::1/x"}, "TIKTOK_AUTH_URL='https://[::1/x' is not a web address"),
    ({"TIKTOK_REDIRECT_URI": "ftp://127.0.0.1/callback/"}, "TIKTOK_REDIRECT_URI='ftp://127.0.0.1/callback/' is not"),
    ({"DATABASE_URL": "mysql://root:s3cret-pw@db/x"}, "DATABASE_URL must be a PostgreSQL address: postgresql://USER:"
                                                      "PASSWORD@HOST:PORT/DATABASE (it starts with mysql://)"),
]


def table(rows: list[tuple[dict, str]]) -> list:
    return [pytest.param(env, needle, id=" ".join(f"{k}={v!r:.40}" for k, v in env.items())) for env, needle in rows]


@pytest.mark.parametrize("env, needle", table(BAD_SETTINGS))
def test_each_bad_setting_is_a_config_error_naming_it_and_its_form(env, needle):
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert needle in str(caught.value)
    assert "\n" not in str(caught.value) and SECRET not in str(caught.value)  # one line, and no password


BAD_WORKER_SETTINGS = [
    ({"WORKER_DISPATCH_CRON": "garbage"}, "WORKER_DISPATCH_CRON='garbage' is not a cron schedule: use five fields"),
    ({"WORKER_REFRESH_CRON": "61 * * * *"}, "WORKER_REFRESH_CRON='61 * * * *' is not a cron schedule"),
    ({"WORKER_REPORT_CRON": "0 0 30 2 *"}, "WORKER_REPORT_CRON='0 0 30 2 *' is not a cron schedule"),  # never comes
    ({"WORKER_DISPATCH_CRON": "* * * * * * * *"}, "WORKER_DISPATCH_CRON='* * * * * * * *' is not a cron schedule"),
    ({"WORKER_STALLED_S": "nan"}, "WORKER_STALLED_S='nan' is not a number of seconds from 0.1 to 86400"),
    ({"WORKER_HEARTBEAT_S": "-1"}, "WORKER_HEARTBEAT_S='-1' is not a number of seconds"),
    ({"WORKER_HEARTBEAT_S": "inf"}, "WORKER_HEARTBEAT_S='inf' is not a number of seconds"),
    ({"WORKER_STALLED_S": "5", "WORKER_HEARTBEAT_S": "10"},
     "WORKER_STALLED_S=5 must be more than WORKER_HEARTBEAT_S=10"),
    ({"WORKER_REFRESH_WITHIN": "0"}, "WORKER_REFRESH_WITHIN='0' is not a duration from 1s to 365d"),
    ({"WORKER_REFRESH_WITHIN": "nan"}, "WORKER_REFRESH_WITHIN='nan' is not a duration"),
]


@pytest.mark.parametrize("env, needle", table(BAD_WORKER_SETTINGS))
def test_each_bad_worker_setting_is_a_config_error_naming_it(env, needle):
    with pytest.raises(ConfigError) as caught:
        worker_settings(env)
    assert needle in str(caught.value)


def test_a_dotenv_that_is_not_utf8_is_a_config_error_naming_it_and_the_line(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(b"PORT=8000\nTOKENS_FILE=caf\xe9.json\n")
    with pytest.raises(ConfigError) as caught:
        read_environment(dotenv)
    assert str(caught.value) == f"{dotenv}: not UTF-8 text (a byte that is not UTF-8 on line 2); save it as UTF-8"


def command(script: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """A real command in ``cwd`` (no .env there unless the test wrote one), with only ``env`` set."""
    base = {"PATH": os.environ["PATH"], "HOME": str(cwd), "PYTHONPATH": str(ROOT),
            "TOKENS_FILE": str(cwd / "user_tokens.json")}
    return subprocess.run([sys.executable, *script], cwd=cwd, env={**base, **env}, capture_output=True, text=True,
                          timeout=60)


UPLOAD = [str(ROOT / "upload_to_tiktok.py")]
APP = [str(ROOT / "app.py")]
WORKER = ["-m", "tiktok", "worker"]


@pytest.mark.slow
@pytest.mark.parametrize("script, env, needle", [
    pytest.param(UPLOAD, {"TOKENS_FILE": "/"}, "TOKENS_FILE='/' is a folder", id="upload-tokens-file-root"),
    pytest.param(UPLOAD, {"STORE_FILE": "/"}, "STORE_FILE='/' is a folder", id="upload-store-file-root"),
    pytest.param(UPLOAD, {"POST_GRACE": "nan"}, "POST_GRACE='nan' is not a duration", id="upload-post-grace-nan"),
    pytest.param(UPLOAD, {"PORT": "0"}, "PORT=0 is not a TCP port", id="upload-port-0"),
    pytest.param(APP, {"QUEUE_TICK_S": "nan"}, "QUEUE_TICK_S='nan' is out of range", id="app-queue-tick-nan"),
    pytest.param(APP, {"QUEUE_TICK_S": "inf"}, "QUEUE_TICK_S='inf' is out of range", id="app-queue-tick-inf"),
    pytest.param(APP, {"QUEUE_TICK_S": "abc"}, "QUEUE_TICK_S='abc' is not a number", id="app-queue-tick-abc"),
    pytest.param(APP, {"PORT": "0"}, "PORT=0 is not a TCP port", id="app-port-0"),
    pytest.param(APP, {"TOKENS_FILE": "/"}, "TOKENS_FILE='/' is a folder", id="app-tokens-file-root"),
    pytest.param(WORKER, {"WORKER_DISPATCH_CRON": "garbage", "DATABASE_URL": "postgresql://tiktok@127.0.0.1:1/q"},
                 "WORKER_DISPATCH_CRON='garbage' is not a cron schedule", id="worker-garbage-cron"),
])
def test_a_command_with_a_bad_setting_exits_2_with_one_line_naming_it(tmp_path, script, env, needle):
    result = command(script, tmp_path, **env)
    assert result.returncode == 2, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert f"error: {needle}" in output and "Traceback" not in output
    assert "EMULATED MODE" not in output and "open http" not in output  # the app never started


@pytest.mark.slow
@pytest.mark.parametrize("script", [UPLOAD, APP, ["-m", "tiktok", "accounts"]], ids=["upload", "app", "accounts"])
def test_a_dotenv_that_is_not_utf8_stops_every_command_with_exit_2(tmp_path, script):
    (tmp_path / ".env").write_bytes(b"# r\xe9glages\nPORT=8000\n")
    result = command(script, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "error: .env: not UTF-8 text (a byte that is not UTF-8 on line 1); save it as UTF-8" in output
    assert "Traceback" not in output
