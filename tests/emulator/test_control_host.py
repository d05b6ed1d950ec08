"""The control API (everything under /_emulator/) answers only to the emulator's own loopback names: 127.0.0.1,
localhost and [::1], with its port. Any other Host (a rebound DNS name, another port, none) gets 421 and changes
nothing; TikTok's own paths are not affected."""

from __future__ import annotations

import http.client
import json

import pytest

from tiktok.emulator.config import default_users

ADA = default_users()[0].open_id
# (method, path, body): every control route, the ones that change state with a body that would change it
CONTROL_CALLS = [
    ("GET", "/_emulator/state", None),
    ("POST", "/_emulator/faults", {"path": "/v2/user/info/", "status": 500, "times": 3}),
    ("DELETE", "/_emulator/faults", None),
    ("GET", "/_emulator/clock", None),
    ("POST", "/_emulator/clock", {"advance": 86400}),
    ("GET", "/_emulator/moderation", None),
    ("POST", "/_emulator/moderation", {"delay_s": 600, "withhold": True}),
    ("POST", f"/_emulator/users/{ADA}/revoke", None),
    ("POST", "/_emulator/posts/fail_next", {"fail_reason": "internal", "times": 2}),
    ("POST", "/_emulator/posts/v_pub_file~v2.1/user_posted", {}),
    ("GET", f"/_emulator/videos/{ADA}", None),
    ("POST", f"/_emulator/videos/{ADA}", {"title": "planted"}),
    ("GET", f"/_emulator/avatar/{ADA}.svg", None),
]


def call(emulator, method: str, path: str, body, host: str | None) -> tuple[int, bytes]:
    """One request to the running emulator with exactly this Host header (None: no Host header at all)."""
    conn = http.client.HTTPConnection("127.0.0.1", emulator.running.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host is not None:
            conn.putheader("Host", host)
        data = json.dumps(body).encode() if body is not None else b""
        if body is not None:
            conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def foreign_hosts(port: int) -> list[str | None]:
    return ["evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}", "127.0.0.1", "localhost",
            f"localhost.evil.example:{port}", f"127.0.0.1.nip.io:{port}", f"[::2]:{port}", "", None]


@pytest.mark.parametrize("method, path, body", CONTROL_CALLS, ids=lambda v: v if isinstance(v, str) else "")
def test_a_foreign_host_gets_421_and_nothing_changes(emulator, method, path, body):
    before = emulator.state.snapshot()
    now = emulator.state.now()
    for host in foreign_hosts(emulator.running.port):
        status, answer = call(emulator, method, path, body, host)
        assert status == 421, (host, status, answer[:200])
        assert b"answers only to its own loopback address" in answer, host
    assert emulator.state.snapshot() == before
    assert emulator.state.now() == now and emulator.state.posting.forced_fail_reasons == []


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "[::1]", "LOCALHOST"])
def test_its_own_loopback_names_with_its_port_are_answered(emulator, name):
    port = emulator.running.port
    status, answer = call(emulator, "GET", "/_emulator/state", None, f"{name}:{port}")
    assert status == 200 and "faults" in json.loads(answer)
    status, answer = call(emulator, "POST", "/_emulator/faults", {"path": "/v2/user/info/", "status": 500},
                          f"{name}:{port}")
    assert status == 201 and len(emulator.state.snapshot()["faults"]) == 1


def test_tiktoks_own_paths_do_not_check_the_host(emulator):
    status, answer = call(emulator, "GET", "/v2/user/info/?fields=open_id", None, "open.tiktokapis.com")
    assert status == 401 and json.loads(answer)["error"]["code"] == "access_token_invalid"


def test_the_in_process_test_client_on_port_80_still_works(emulator):
    assert emulator.app.test_client().get("/_emulator/state").status_code == 200  # Host: localhost, port 80
