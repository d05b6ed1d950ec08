"""The post store for tests: the same tests run on SQLite (a file in the test's folder) and on PostgreSQL (a fresh
database on the session's throwaway server, migrated as ``python -m tiktok db migrate`` would).

``store_kind`` is parametrised ``sqlite`` / ``postgres``; ``open_test_store(kind, tmp_path, request)`` gives the
store and the environment (``STORE_FILE`` or ``DATABASE_URL``) a command or the app needs to use the same one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tiktok.store.sqlite import open_sqlite

# Every store test runs on both; -m "not slow" runs the SQLite half (the same code path) for day-to-day work.
KINDS = ("sqlite", pytest.param("postgres", marks=pytest.mark.slow))


class FixedClock:
    """A clock that stands still until a test moves ``now``: the stores' and the alerts' time, no sleeping."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class StoreUnderTest:
    kind: str
    store: Any
    env: dict[str, str] = field(default_factory=dict)  # what a command or the app needs to open the same store

    def reopen(self, **kw):
        """A second store object on the same data (another process would have its own)."""
        if self.kind == "sqlite":
            return open_sqlite(Path(self.env["STORE_FILE"]), **kw)
        from tiktok.store.postgres import open_postgres
        return open_postgres(self.env["DATABASE_URL"], **kw)


def make_store(kind: str, tmp_path: Path, request, *, key: str | None = None, clock=None,
               fresh: bool = False) -> StoreUnderTest:
    """A new store: a file in ``tmp_path``, or the test's database (``fresh``: another new database on the same
    server, for a test that needs several)."""
    extra = {} if clock is None else {"clock": clock}
    if kind == "sqlite":
        path = tmp_path / "tiktok.db"
        return StoreUnderTest(kind, open_sqlite(path, key=key, **extra), {"STORE_FILE": str(path)})
    url = request.getfixturevalue("postgres").new_database() if fresh else request.getfixturevalue("database_url")
    from tiktok.db.migrations import migrate
    from tiktok.store.postgres import migrate as migrate_store, open_postgres
    migrate(url)
    migrate_store(url)
    return StoreUnderTest(kind, open_postgres(url, key=key, **extra), {"DATABASE_URL": url})


@pytest.fixture(params=KINDS)
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def test_store(store_kind, tmp_path, request):
    made = make_store(store_kind, tmp_path, request)
    yield made
    made.store.close()


@pytest.fixture
def post_store(test_store):
    return test_store.store
