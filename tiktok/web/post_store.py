"""The app's one post store, opened on first use (a database that is down does not stop the app starting), and the
``<time>`` element every page's messages use. The Posts page, the composer and the background runner all take the
store from here, so none of them imports another to reach it."""

from __future__ import annotations

import threading

from flask import Flask, current_app
from markupsafe import Markup

from tiktok.store.base import PostStore, open_store
from tiktok.text import moment, utc_iso

STORE = "tiktok_post_store"


class LazyStore:
    """Opens the post store the first time a page or the runner asks (StoreError then, not at start-up)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._store: PostStore | None = None
        self._lock = threading.Lock()

    def get(self) -> PostStore:
        with self._lock:
            if self._store is None:
                settings = self.app.extensions["tiktok_services"].settings
                self._store = open_store(settings, clock=self.app.config["CLOCK"])
            return self._store


def install(app: Flask) -> None:
    app.extensions[STORE] = LazyStore(app)


def store_of(app: Flask) -> PostStore:
    """The app's post store (StoreError when it cannot be used)."""
    return app.extensions[STORE].get()


def post_store() -> PostStore:
    """The post store of the app serving this request."""
    return store_of(current_app)


def time_html(epoch: float) -> Markup:
    """A ``<time>`` the page's script shows in the browser's zone (zone named); the server's zone without it."""
    return Markup('<time class="moment" datetime="{}">{}</time>').format(utc_iso(epoch), moment(epoch))
