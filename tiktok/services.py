"""Wire settings to the objects that do the work: one HTTP session, the OAuth and API clients, the token store.

Built once (a command's ``ctx.services``, the app's ``app.extensions["tiktok_services"]``) and handed down. A
requests.Session is not shared between threads, so a worker's jobs (each in a thread of its own) and the report's
reader threads build their own from the same settings (``tiktok.report.run.thread_readers`` shares the store)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import requests

from tiktok.version import __version__
from tiktok.api import ApiClient
from tiktok.config import Settings
from tiktok.auth.oauth import OAuthClient
from tiktok.auth.tokens import TokenStore
from tiktok.store.health import rate_limit_counter


def user_agent() -> str:
    """``tiktok-local-tool/<version> pid/<pid>``: the tool and the process sending, so a log on the other side (the
    emulator's request log, a proxy's) tells the app's requests from each worker's."""
    return f"tiktok-local-tool/{__version__} pid/{os.getpid()}"


def http_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = user_agent()
    return session


@dataclass
class Services:
    """What a command, the app or a job works with, built from one Settings."""

    settings: Settings
    store: TokenStore
    oauth: OAuthClient
    api: ApiClient


def token_store(settings: Settings, *, clock=None) -> TokenStore:
    """The accounts' store: the token file, or PostgreSQL when DATABASE_URL is set (chosen in tiktok.store.base)."""
    from tiktok.store.base import open_token_store
    return open_token_store(settings, clock=clock)


def build_services(settings: Settings, *, store: TokenStore | None = None,
                   session: requests.Session | None = None) -> Services:
    session = session or http_session()
    return Services(
        settings=settings,
        store=store or token_store(settings),
        oauth=OAuthClient(session, api_base=settings.tiktok.api_base, client_key=settings.tiktok.client_key,
                          client_secret=settings.tiktok.client_secret),
        api=ApiClient(session, api_base=settings.tiktok.api_base,
                      on_rate_limited=rate_limit_counter(settings)),  # 429s counted for the status figures
    )
