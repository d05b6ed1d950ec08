"""People in the store, on SQLite and PostgreSQL alike (issue 26 item 1): the first person to sign in owns the app,
later ones wait until the owner allows them, the owner is never removed, and a sign-in ends on the server (its row
goes at sign-out, with the person's removal, or when it expires), with only a hash of the cookie's id stored."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from tiktok.store import schema
from tiktok.store.people import MEMBER, OWNER, PENDING, session_digest

ADA, BO, CY = "ada-open-id", "bo-open-id", "cy-open-id"


def test_the_first_person_owns_and_the_next_waits_until_allowed(store, clock):
    assert store.people() == [] and store.allowed_count() == 0
    ada = store.sign_in_person(ADA, "Ada", "https://a.example/ada.png", may_own=True)
    assert ada.role == OWNER and ada.allowed_at == clock.now
    bo = store.sign_in_person(BO, "Bo", "", may_own=True)
    assert bo.role == PENDING and not bo.allowed and bo.allowed_at is None
    assert store.allowed_count() == 1
    clock.now += 60
    allowed = store.allow_person(BO, by=ADA)
    assert allowed.role == MEMBER and allowed.allowed_at == clock.now
    again = store.sign_in_person(BO, "Bo renamed", "https://a.example/bo.png", may_own=True)
    assert again.role == MEMBER and again.name == "Bo renamed"  # a known person keeps their role
    assert [p.open_id for p in store.people()] == [ADA, BO] and store.allowed_count() == 2


def test_a_sign_in_that_may_not_own_waits_even_when_nobody_owns(store):
    assert store.sign_in_person(CY, "Cy", "", may_own=False).role == PENDING
    assert store.sign_in_person(ADA, "Ada", "", may_own=True).role == OWNER
    assert store.person(CY).role == PENDING


def test_allowing_before_the_first_sign_in_makes_a_member(store):
    store.sign_in_person(ADA, "Ada", "", may_own=True)
    store.allow_person(CY, by=ADA, name="Cy Private")
    assert store.sign_in_person(CY, "Cy", "", may_own=True).role == MEMBER


def test_the_owner_is_never_removed_and_a_removed_member_loses_every_sign_in(store):
    store.sign_in_person(ADA, "Ada", "", may_own=True)
    store.sign_in_person(BO, "Bo", "", may_own=True)
    store.allow_person(BO, by=ADA)
    first, second = (store.open_person_session(BO, lifetime_s=3600) for _ in range(2))
    assert store.session_person(first).open_id == BO
    assert store.remove_person(ADA) is False and store.person(ADA).role == OWNER
    assert store.remove_person(BO) is True and store.person(BO) is None
    assert store.session_person(first) is None and store.session_person(second) is None


def test_a_sign_in_ends_at_sign_out_and_when_it_expires(store, clock):
    store.sign_in_person(ADA, "Ada", "", may_own=True)
    kept = store.open_person_session(ADA, lifetime_s=3600)
    ended = store.open_person_session(ADA, lifetime_s=3600)
    store.end_person_session(ended)
    assert store.session_person(ended) is None and store.session_person(kept).open_id == ADA
    for bad in (None, "", 42, kept + "x"):
        assert store.session_person(bad) is None
    clock.now += 3600
    assert store.session_person(kept) is None


def test_only_a_hash_of_the_cookies_id_is_stored(store):
    store.sign_in_person(ADA, "Ada", "", may_own=True)
    session_id = store.open_person_session(ADA, lifetime_s=60)
    with store.engine.connect() as conn:
        digests = conn.execute(select(schema.person_sessions.c.digest)).scalars().all()
    assert digests == [session_digest(session_id)] and session_id not in digests


def test_people_signing_in_at_once_make_one_owner(store):
    ids = [f"person-{n}" for n in range(8)]
    with ThreadPoolExecutor(8) as pool:
        roles = list(pool.map(lambda i: store.sign_in_person(i, i, "", may_own=True).role, ids))
    assert sorted(roles) == [OWNER] + [PENDING] * 7
    assert store.allowed_count() == 1
