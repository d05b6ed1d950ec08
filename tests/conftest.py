"""Fixtures shared by the suite: a strict TikTok emulator and the app, both served on 127.0.0.1."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import requests

from tiktok.emulator.config import EmulatorConfig
from tiktok.emulator.remote import EmulatorRemote
from tiktok.emulator.server import EmulatorServer, start_emulator
from tiktok.auth.oauth import OAuthClient
from tiktok.emulator.serving import RunningServer, serve_in_thread
from tiktok.auth.tokens import TokenStore
from tiktok.web.app import create_app
from tests.support.flows import WebClient

# S3 fixtures; the post store on SQLite and PostgreSQL; a local SMTP server and webhook receiver (alerts)
pytest_plugins = ["tests.support.s3", "tests.support.stores", "tests.support.receivers"]


class OffsetClock:
    """Real time plus an offset tests can move; no test sleeps."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class LateApp:
    """A WSGI app set after the server is bound, so the app's redirect URI can carry the real port."""

    app: Any = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@dataclass
class ServedApp:
    url: str
    tokens_path: Path
    clock: OffsetClock
    flask_app: Any
    server: RunningServer
    clients: list[WebClient] = field(default_factory=list)

    def client(self) -> WebClient:
        web = WebClient(self.url)
        self.clients.append(web)
        return web


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
def emulator(emulator_config) -> EmulatorServer:
    with start_emulator(emulator_config) as server:
        yield server


@pytest.fixture
def remote(emulator) -> EmulatorRemote:
    return EmulatorRemote(emulator.url)


@pytest.fixture
def tokens_path(tmp_path) -> Path:
    return tmp_path / "user_tokens.json"


@pytest.fixture
def oauth(emulator) -> OAuthClient:
    """The OAuth client of the emulator's registered app, over loopback."""
    return OAuthClient(requests.Session(), api_base=emulator.url, client_key=emulator.config.client_key,
                       client_secret=emulator.config.client_secret)


@pytest.fixture
def store(tokens_path) -> TokenStore:
    return TokenStore(tokens_path)


@pytest.fixture
def serve_app(emulator, tokens_path) -> Callable[..., ServedApp]:
    """Start the app against the emulator; keyword arguments override its environment-style config."""
    started: list[ServedApp] = []

    def start(**overrides: str) -> ServedApp:
        holder = LateApp()
        running = serve_in_thread(holder)
        clock = OffsetClock()
        config = {"TIKTOK_CLIENT_KEY": emulator.config.client_key,
                  "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
                  "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(tokens_path), "PORT": str(running.port),
                  **overrides, "CLOCK": clock}
        holder.app = create_app(config)
        served = ServedApp(url=running.url, tokens_path=tokens_path, clock=clock, flask_app=holder.app,
                           server=running)
        started.append(served)
        return served

    yield start
    for served in started:
        served.server.shutdown()


@pytest.fixture
def app_under_test(serve_app) -> ServedApp:
    return serve_app()


@pytest.fixture
def web(app_under_test) -> WebClient:
    return app_under_test.client()


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server for the whole run (tests.support.postgres); fails, never skips."""
    from tests.support.postgres import start_server, stop_server
    server = start_server()
    yield server
    stop_server(server)


@pytest.fixture
def database_url(postgres) -> Iterator[str]:
    """A fresh, empty database on the throwaway server, dropped afterwards with this process's pools for it (each
    keeps a connection: across the suite they would use up the server's max_connections)."""
    from tiktok.db.connection import close_pools

    url = postgres.new_database()
    yield url
    close_pools(url)
    postgres.drop_database(url)
