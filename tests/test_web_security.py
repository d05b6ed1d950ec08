"""Hardening of the web app: Host allow-list (DNS rebinding), security headers, no state change on GET,
and the APP_PASSWORD gate (its defences against guessing, copied cookies and open redirects are in
test_password_gate.py). Real loopback HTTP against the emulator where tokens are involved."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.conftest import OffsetClock
from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import default_users
from tiktok.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
ADA, BO, CY = (u.open_id for u in default_users())


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def stored(app_under_test) -> dict:
    return TokenStore(app_under_test.tokens_path).load()


# --- Host allow-list --------------------------------------------------------------------------------------


def test_dns_rebinding_cannot_read_the_csrf_token_or_remove_an_account(app_under_test, web, remote):
    """evil.example re-pointed at 127.0.0.1: same-origin for the browser, but its requests say Host: evil.example."""
    web.login(open_id=ADA)
    port = app_under_test.server.port
    page = web.http.get(f"http://127.0.0.1:{port}/", headers={"Host": "evil.example"}, timeout=10)
    assert page.status_code == 421
    assert 'name="csrf"' not in page.text and ADA not in page.text
    # Even with the victim's own cookie and a valid token the forged Host is refused before the view runs.
    token = csrf_of(web.get("/").text)
    removal = web.http.post(f"http://127.0.0.1:{port}/accounts/{ADA}/remove", data={"csrf": token},
                            headers={"Host": f"evil.example:{port}"}, allow_redirects=False, timeout=10)
    assert removal.status_code == 421
    assert ADA in stored(app_under_test)
    assert remote.state()["tokens"]["revoked"] == 0
    # The same request with the app's own Host goes through: the refusal above was the Host check.
    assert web.http.post(f"http://127.0.0.1:{port}/accounts/{ADA}/remove", data={"csrf": token},
                         allow_redirects=False, timeout=10).status_code == 302
    assert ADA not in stored(app_under_test)


@pytest.fixture
def app(tmp_path):
    return create_app({"TOKENS_FILE": str(tmp_path / "tokens.json"), "PORT": "8123",
                       "ALLOWED_HOSTS": "Tool.Example, box.lan:9000"})


@pytest.mark.parametrize("host", ["127.0.0.1:8123", "localhost:8123", "[::1]:8123", "LOCALHOST:8123",
                                  "tool.example", "tool.example:8123", "box.lan:9000"])
def test_the_apps_own_names_are_answered(app, host):
    assert app.test_client().get("/", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8123", "localhost", "127.0.0.1",
                                  "127.0.0.1:8124", "localhost:8000", "[::1]", "box.lan", "box.lan:8123",
                                  "tool.example.evil.example", "", "127.0.0.1:8123.evil.example"])
def test_any_other_host_is_refused_before_any_view(app, host):
    client = app.test_client()
    assert client.get("/", headers={"Host": host}).status_code == 421
    assert client.post("/refresh_tokens/", headers={"Host": host}).status_code == 421  # not the CSRF 400
    assert client.get("/assets/style.css", headers={"Host": host}).status_code == 421


def test_the_test_client_is_addressed_with_the_apps_port(app):
    response = app.test_client().get("/")
    assert response.status_code == 200 and response.request.host == "localhost:8123"


# --- Headers and cookie ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/assets/style.css", "/assets/app.js", "/refresh_tokens/", "/transcripts/",
                                  "/no-such-page/"])
def test_every_response_carries_the_security_headers(app, path):
    response = app.test_client().get(path)
    csp = response.headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["script-src"] == ["'self'"] and "'unsafe-inline'" not in csp
    assert directives["default-src"] == ["'self'"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer")


def test_a_refused_host_still_gets_the_headers(app):
    response = app.test_client().get("/", headers={"Host": "evil.example"})
    assert response.status_code == 421 and response.headers["X-Frame-Options"] == "DENY"


def test_form_action_allows_the_consent_redirect_of_relink(app):
    csp = app.test_client().get("/").headers["Content-Security-Policy"]
    form_action = next(d for d in csp.split("; ") if d.startswith("form-action"))
    assert form_action.split()[1:] == ["'self'", "http://127.0.0.1:8001"]  # the emulator's authorize page


def test_templates_have_no_inline_script():
    for template in (ROOT / "tiktok" / "templates").glob("*.html"):
        html = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline <script> in {template.name}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"inline event handler in {template.name}"
        assert "javascript:" not in html, template.name


def test_session_cookie_is_httponly_and_samesite_lax(app):
    response = app.test_client().get("/")  # the page's forms put a CSRF token in the session
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("tiktok_tool_session="))
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=lax"


# --- No state change on GET -----------------------------------------------------------------------------


def test_a_cross_site_get_of_refresh_tokens_rotates_nothing(app_under_test, web, remote):
    web.login(open_id=ADA)
    before = app_under_test.tokens_path.read_bytes()
    # <img src="http://127.0.0.1:PORT/refresh_tokens/"> on another site: a plain GET, here even with the cookie.
    for http in (requests.Session(), web.http):
        page = http.get(app_under_test.url + "/refresh_tokens/", timeout=10)
        assert page.status_code == 200 and 'id="confirm-refresh"' in page.text
    assert app_under_test.tokens_path.read_bytes() == before
    grant = next(g for g in remote.state()["tokens"]["grants"] if g["open_id"] == ADA)
    assert grant["rotations"] == 0
    # The confirmation's button posts with the CSRF token and does the refresh.
    confirm = web.get("/refresh_tokens/").text
    assert re.search(r'<form method="post" action="/refresh_tokens/">', confirm)
    done = web.http.post(app_under_test.url + "/refresh_tokens/", data={"csrf": csrf_of(confirm)}, timeout=10)
    assert done.status_code == 200 and 'id="outcomes"' in done.text
    grant = next(g for g in remote.state()["tokens"]["grants"] if g["open_id"] == ADA)
    assert grant["rotations"] == 1


def test_a_post_without_the_token_rotates_nothing(app_under_test, web, remote):
    web.login(open_id=ADA)
    assert web.http.post(app_under_test.url + "/refresh_tokens/", data={}, timeout=10).status_code == 400
    assert next(g for g in remote.state()["tokens"]["grants"] if g["open_id"] == ADA)["rotations"] == 0


# --- APP_PASSWORD ---------------------------------------------------------------------------------------

PASSWORD = "correct horse " + os.urandom(4).hex()


@pytest.fixture
def clock():
    return OffsetClock()


@pytest.fixture
def locked(tmp_path, clock):
    return create_app({"TOKENS_FILE": str(tmp_path / "tokens.json"), "APP_PASSWORD": PASSWORD, "CLOCK": clock})


def sign_in(client, password=PASSWORD, next_path="/"):
    form = client.get("/app-login/").get_data(as_text=True)
    return client.post("/app-login/?" + urlencode({"next": next_path}), data={"csrf": csrf_of(form), "password": password})


@pytest.mark.parametrize("path", ["/", "/refresh_tokens/", "/transcripts/", "/stats/", "/login/", "/callback/"])
def test_with_a_password_every_page_redirects_to_sign_in(locked, path):
    response = locked.test_client().get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/app-login/" and parse_qs(location.query) == {"next": [path]}


def test_the_sign_in_page_and_assets_are_open(locked):
    client = locked.test_client()
    page = client.get("/app-login/")
    assert page.status_code == 200 and 'type="password"' in page.get_data(as_text=True)
    assert client.get("/assets/style.css").status_code == 200


def test_a_post_before_signing_in_changes_nothing(locked, tmp_path):
    client = locked.test_client()
    response = client.post("/refresh_tokens/", data={"csrf": "x"})
    assert response.status_code == 302 and "/app-login/" in response.headers["Location"]
    assert not (tmp_path / "tokens.json").exists()


def test_a_wrong_password_is_refused(locked):
    client = locked.test_client()
    response = sign_in(client, password=PASSWORD + "x")
    assert response.status_code == 401 and 'id="login-error"' in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert sign_in(client, password="").status_code == 401


def test_sign_in_without_the_csrf_token_is_refused(locked):
    client = locked.test_client()
    assert client.post("/app-login/", data={"password": PASSWORD}).status_code == 400
    assert client.get("/").status_code == 302


def test_sign_in_opens_the_pages_until_it_expires(locked, clock):
    client = locked.test_client()
    response = sign_in(client, next_path="/transcripts/")
    assert response.status_code == 302 and response.headers["Location"] == "/transcripts/"
    page = client.get("/")
    assert page.status_code == 200 and 'id="app-logout"' in page.get_data(as_text=True)
    cookie = next(h for h in page.headers.getlist("Set-Cookie") if h.startswith("tiktok_tool_session="))
    assert "Expires=" in cookie  # a permanent session: PERMANENT_SESSION_LIFETIME applies
    clock.advance(11.9 * 3600)
    assert client.get("/").status_code == 200
    clock.advance(0.2 * 3600)  # past 12 hours
    assert client.get("/").status_code == 302


def test_sign_out(locked):
    client = locked.test_client()
    sign_in(client)
    page = client.get("/").get_data(as_text=True)
    assert client.post("/app-logout/", data={"csrf": csrf_of(page)}).status_code == 302
    assert client.get("/").status_code == 302


def test_without_a_password_there_is_no_gate(app):
    assert app.test_client().get("/").status_code == 200
    assert app.test_client().get("/app-login/").status_code == 302


def run_app(tmp_path, *args, **env):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=30, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env})


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::"])
def test_binding_beyond_loopback_without_a_password_is_refused(tmp_path, host):
    result = run_app(tmp_path, "--host", host, "--port", "1", "--emulator-port", "2")
    assert result.returncode == 2, result.stderr
    assert "APP_PASSWORD" in result.stderr and host in result.stderr
    assert "EMULATED MODE" not in result.stderr  # refused before anything started


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_with_a_password_the_app_serves_beyond_loopback_with_waitress(tmp_path):
    port, emulator_port = free_port(), free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "APP_PASSWORD": PASSWORD}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--host", "0.0.0.0", "--port", str(port),
                             "--emulator-port", str(emulator_port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(200):
            assert proc.poll() is None, proc.communicate()[1]
            try:
                response = requests.get(url, allow_redirects=False, timeout=2)
                break
            except requests.ConnectionError:
                import time
                time.sleep(0.1)
        else:
            raise AssertionError("the app did not start")
        assert response.headers["Server"] == "waitress"
        assert response.status_code == 302 and response.headers["Location"].startswith("/app-login/")
        assert requests.get(url, headers={"Host": "evil.example"}, timeout=5).status_code == 421
        session = requests.Session()
        form = session.get(url + "app-login/", timeout=5).text
        signed_in = session.post(url + "app-login/", data={"csrf": csrf_of(form), "password": PASSWORD}, timeout=5)
        assert signed_in.status_code == 200 and 'id="no-accounts"' in signed_in.text
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    assert f"open http://127.0.0.1:{port}/" in stderr
    assert PASSWORD not in stderr
