"""The real server (``python app.py``, emulator mode) keeps answering while hundreds of idle sockets are held open,
each kept alive by a byte every few seconds, as a slowloris attack does.

The app is started with its soft limit on open files lowered to 256, below what 300 sockets need: it must raise
the limit itself (up to the hard limit) as it does wherever the default is low."""

from __future__ import annotations

import resource
import socket
import time

import pytest
import requests

from tests.support.app_process import start_app, stop_app

pytestmark = pytest.mark.slow  # hundreds of idle sockets held open against the real server

IDLE_SOCKETS = 300
TRICKLE_EVERY_S = 2.0
ROUNDS = 2


@pytest.fixture
def app_process(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard == resource.RLIM_INFINITY or hard >= 2048, "this machine's hard limit is too low for the test"
    proc, url = start_app(tmp_path, open_files=(256, hard))
    yield url
    stop_app(proc)


def open_idle(url: str, count: int) -> list[socket.socket]:
    host_port = url.removeprefix("http://")
    host, port = host_port.split(":")
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, int(port)), timeout=10)
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {host_port}\r\nX-Idle: ".encode())
        sockets.append(sock)
    return sockets


def test_a_person_is_answered_within_2_s_while_300_idle_sockets_are_held_open(app_process):
    idle = open_idle(app_process, IDLE_SOCKETS)
    try:
        for _ in range(ROUNDS):  # a byte every few seconds keeps each one active
            time.sleep(TRICKLE_EVERY_S)
            for sock in idle:
                sock.sendall(b"a")
        started = time.monotonic()
        page = requests.get(app_process + "/", timeout=10)
        took = time.monotonic() - started
        assert page.status_code == 200 and 'id="no-accounts"' in page.text
        assert took < 2.0, f"answered in {took:.2f} s under {IDLE_SOCKETS} idle sockets"
        # They were real connections the server held all along: each one, completed now, is answered.
        for sock in idle:
            sock.sendall(b"\r\nConnection: close\r\n\r\n")
        answered = sum(sock.recv(64).startswith(b"HTTP/1.1 200") for sock in idle)
        assert answered == IDLE_SOCKETS
    finally:
        for sock in idle:
            sock.close()


def test_a_low_hard_limit_lowers_the_connection_limit_and_says_so(tmp_path):
    proc, url = start_app(tmp_path, open_files=(300, 300))
    try:
        assert requests.get(url + "/", timeout=5).status_code == 200
    finally:
        stderr = stop_app(proc)
    assert "may open only 300 files, so the app takes at most 172 connections" in stderr
    assert "ulimit -n 1128" in stderr
