"""Fixtures of the store tests: a store of each kind (``store_kind``: SQLite, and PostgreSQL on a throwaway cluster)
on a clock that stands still until a test moves it."""

from __future__ import annotations

import pytest

from tests.support.stores import FixedClock, make_store


@pytest.fixture
def clock():
    return FixedClock()


@pytest.fixture
def store(store_kind, tmp_path, request, clock):
    made = make_store(store_kind, tmp_path, request, clock=clock)
    yield made.store
    made.store.close()
