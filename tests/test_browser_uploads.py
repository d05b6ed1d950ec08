"""Uploads in a real browser (Playwright, Debian's Chromium) against the real server (``python app.py``, waitress,
emulator mode), started with TMPDIR set to an empty folder.

A page on another origin (a second loopback server) POSTs 3 × 40 MB bodies with ``fetch(mode: "no-cors")`` to the
upload routes and to other routes, and requests arrive with a foreign Host header, bodies big and small: the app
writes (next to) nothing to TMPDIR, polled while it happens and after, and still answers. Then a person uploads a
video of three slices (the shipped 64 MiB, each written by the server straight into the part file) in the composer
while the connection drops under two of them: the page sends them again and the kept file is the person's file,
byte for byte; with another file the server refuses a slice for good (a full disk), and the page says so and drops
the upload on the server at once.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from tiktok.emulator.config import default_users
from tests.support.app_process import start_app, stop_app
from tests.support.posting import sha256_file
from tests.support.uploads import bytes_on_disk
from tests.test_browser_login import CHROMIUM_ARGS, chromium_path
from tiktok.web.uploads import SLICE_BYTES
from tests.test_uploads import noisy_video

pytestmark = pytest.mark.slow  # a real Chromium and the app in its own process

ADA = default_users()[0]
BODY_MB = 40
WRITTEN_AT_MOST = 5_000_000  # bytes in TMPDIR, all requests together
POLL_S = 0.02


class SpoolWatch:
    """Polls the disk the app uses in TMPDIR (files there, and deleted ones it still holds) until stopped."""

    def __init__(self, spool: Path, pid: int) -> None:
        self.spool, self.pid = spool, pid
        self.peak = self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, bytes_on_disk([self.spool], [self.pid]))
            self.polls += 1
            time.sleep(POLL_S)

    def __enter__(self) -> "SpoolWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.peak = max(self.peak, bytes_on_disk([self.spool], [self.pid]))


@pytest.fixture
def app(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    proc, url = start_app(tmp_path, env={"TMPDIR": str(spool)})
    yield proc, url, spool
    stop_app(proc)


@pytest.fixture
def chromium():
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


ATTACK = """<!doctype html><title>cats</title><script>
const targets = %s, body = new Uint8Array(%d * 1024 * 1024);
const sends = [];
for (const url of targets) {
  for (let n = 0; n < 3; n += 1) {
    sends.push(fetch(url, {method: "POST", mode: "no-cors", credentials: "include", body: body}));
  }
}
Promise.allSettled(sends).then(r => { document.title = "done " + r.length; });
</script>"""


def serve_page(html: str) -> ThreadingHTTPServer:
    """Another origin: a loopback server that answers every GET with ``html``."""
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def foreign_host(url: str, body: bytes, chunked: bool = False) -> str:
    """POST ``body`` with ``Host: evil.example`` (as a rebinding attack sends it); the status, or how it ended."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.putrequest("POST", "/refresh_tokens/", skip_host=True)
        connection.putheader("Host", "evil.example")
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        else:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        step = 1024 * 1024
        for at in range(0, len(body), step):
            piece = body[at:at + step]
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            connection.send(b"0\r\n\r\n")
        return str(connection.getresponse().status)
    except OSError as exc:  # refused while still sending: the server closed the connection on it
        return type(exc).__name__
    finally:
        connection.close()


def test_bodies_from_another_origin_and_a_foreign_host_write_nothing_to_tmpdir(app, chromium):
    proc, url, spool = app
    targets = [f"{url}/posts/new/uploads?open_id={ADA.open_id}", f"{url}/posts/new/uploads/0123abcd/finish",
               f"{url}/posts/new", f"{url}/refresh_tokens/"]
    attacker = serve_page(ATTACK % (json.dumps(targets), BODY_MB))
    try:
        with SpoolWatch(spool, proc.pid) as watch:
            tab = chromium.new_page()
            tab.goto(f"http://127.0.0.1:{attacker.server_port}/", wait_until="commit")
            expect(tab).to_have_title(f"done {3 * len(targets)}", timeout=60_000)
            big = b"\0" * BODY_MB * 1024 * 1024
            ends = [foreign_host(url, big) for _ in range(3)] + [foreign_host(url, big, chunked=True)]
            small = foreign_host(url, b"csrf=x")
    finally:
        attacker.shutdown()
    assert all(end in ("413", "ConnectionResetError", "BrokenPipeError") for end in ends), ends
    assert small == "421"
    assert watch.polls > 10 and watch.peak < WRITTEN_AT_MOST, f"{watch.peak} bytes in TMPDIR"
    assert requests.get(url + "/", timeout=10).status_code == 200  # and the app still answers


def test_a_video_uploaded_in_the_composer_survives_slices_lost_on_the_way(app, chromium, tmp_path):
    proc, url, spool = app
    video = noisy_video(tmp_path / "sunset.mp4", 2 * SLICE_BYTES + 12345)  # 3 slices, the last a short one
    tab = chromium.new_page()
    tab.set_default_timeout(30_000)
    tab.goto(url + "/")
    tab.click("#login")
    tab.check(f"input[name=open_id][value='{ADA.open_id}']")  # the emulator's consent page
    tab.click("#authorize")
    tab.wait_for_selector("#accounts")
    tab.goto(url + f"/posts/new?open_id={ADA.open_id}")
    tries: dict[str, int] = {}

    def drop_first_try(route) -> None:  # slices 1 and 2 lose their connection the first time
        index = route.request.url.rsplit("/", 1)[-1]
        tries[index] = tries.get(index, 0) + 1
        if index in ("1", "2") and tries[index] == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    tab.route("**/posts/new/uploads/*/*", drop_first_try)
    with SpoolWatch(spool, proc.pid) as watch:
        tab.set_input_files("#video-file", str(video))
        # (bodies the test's route lets through cross Playwright's protocol: 134 MB take seconds, not 0.9 s)
        expect(tab.locator("#media-checks")).to_have_attribute("data-state", "ok", timeout=60_000)
    media_id = tab.locator("#media-id").input_value()
    assert tab.locator("#media-name").input_value() == "sunset.mp4"
    kept = tmp_path / "media" / media_id
    assert sha256_file(kept) == sha256_file(video)
    assert {k: v for k, v in tries.items() if k.isdigit()} == {"0": 1, "1": 2, "2": 2}
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == [media_id]  # no part file left
    assert watch.peak == 0
    expect(tab.locator("#post-now")).to_be_enabled()  # the form can go: the video is in and passed the checks

    # Another file, and the server refuses a slice for good (a full disk): the page says why, stops, and drops
    # the upload at once, so its part file does not wait an hour.
    tab.unroute("**/posts/new/uploads/*/*")
    full = "The disk holding MEDIA_DIR is full: the upload stopped."

    def disk_full_at_slice_1(route) -> None:
        if route.request.url.endswith("/1"):
            route.fulfill(status=507, content_type="application/json", body=json.dumps({"error": full}))
        else:
            route.continue_()

    tab.route("**/posts/new/uploads/*/*", disk_full_at_slice_1)
    tab.set_input_files("#video-file", str(noisy_video(tmp_path / "second.mp4", SLICE_BYTES + 1024 * 1024)))
    expect(tab.locator("#media-checks")).to_have_attribute("data-state", "error", timeout=60_000)
    expect(tab.locator("#media-checks")).to_contain_text(f"Upload failed: {full}")
    expect(tab.locator("#post-now")).to_be_disabled()
    deadline = time.monotonic() + 10
    while list((tmp_path / "media").glob(".upload-*.part")):
        assert time.monotonic() < deadline, "the abandoned upload's part file stayed"
        time.sleep(0.05)
    assert sorted(p.name for p in (tmp_path / "media").iterdir()) == [media_id]


def test_the_progress_moves_while_a_slice_is_on_its_way(app, chromium, tmp_path):
    """A slice is 64 MiB: the page counts the bytes the browser has sent of each slice (XMLHttpRequest's upload
    progress), so the line moves within a slice, not in two or three jumps."""
    proc, url, spool = app
    video = noisy_video(tmp_path / "dawn.mp4", SLICE_BYTES + 12345)  # 2 slices
    tab = chromium.new_page()
    tab.set_default_timeout(30_000)
    tab.goto(url + "/")
    tab.click("#login")
    tab.check(f"input[name=open_id][value='{ADA.open_id}']")
    tab.click("#authorize")
    tab.wait_for_selector("#accounts")
    tab.goto(url + f"/posts/new?open_id={ADA.open_id}")
    tab.evaluate("""() => {
        window.seen = [];
        new MutationObserver(() => {
            const found = document.getElementById('media-checks').textContent.match(/: (\\d+) %/);
            if (found) { window.seen.push(Number(found[1])); }
        }).observe(document.getElementById('media-checks'), {childList: true, subtree: true, characterData: true});
    }""")
    tab.set_input_files("#video-file", str(video))
    expect(tab.locator("#media-checks")).to_have_attribute("data-state", "ok", timeout=60_000)
    seen = tab.evaluate("window.seen")
    boundaries = {0, 100 * SLICE_BYTES // video.stat().st_size, 100}  # where a count of whole slices can stand
    assert seen == sorted(seen), seen  # never backwards
    assert set(seen) - boundaries, f"the line only moved by whole slices: {seen}"
