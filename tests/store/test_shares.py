"""Share links in the store, on SQLite and PostgreSQL alike (issue 26 item 5): a link's token is 256 random bits of
which only the SHA-256 is stored; it opens its one transcript until revoked; a revoked token and one never made
look the same; only its maker or the owner revokes it, and two revokes at once revoke it once."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from tiktok.store import schema
from tiktok.store.shares import ShareLink

ADA, BO, CY = "ada-open-id", "bo-open-id", "cy-open-id"
ACCOUNT = "acct-open-id"
T1, T2 = (ACCOUNT, "7300000000000000001"), (ACCOUNT, "7300000000000000002")


def test_a_link_opens_its_transcript_and_only_its_hash_is_kept(store, clock):
    token, link = store.create_share(*T1, created_by=BO)
    assert len(token) >= 43 and link == ShareLink(id=link.id, open_id=ACCOUNT, video_id=T1[1], created_by=BO,
                                                   created_at=clock.now, revoked_at=None)
    assert store.shared(token) == link and store.share_link(link.id) == link
    with store.engine.connect() as conn:
        (row,) = conn.execute(select(schema.share_links)).all()
    assert row.digest == hashlib.sha256(token.encode()).hexdigest() and token not in tuple(map(str, row))
    other, _ = store.create_share(*T1, created_by=BO)
    assert other != token and store.shared(other).id != link.id  # each link its own token
    for wrong in (token[:-1], token + "x", "", None, 42, token.upper()):
        assert store.shared(wrong) is None


def test_a_revoked_link_looks_like_one_never_made(store, clock):
    token, link = store.create_share(*T1, created_by=ADA)
    clock.now += 30
    assert store.revoke_share(link.id, by=ADA)
    assert store.shared(token) is None and store.share_link(link.id).revoked_at == clock.now
    assert not store.revoke_share(link.id, by=ADA)  # once
    assert store.shares_of(*T1) == []


def test_only_the_maker_or_the_owner_revokes(store):
    _, bos = store.create_share(*T1, created_by=BO)
    _, cys = store.create_share(*T1, created_by=CY)
    _, elsewhere = store.create_share(*T2, created_by=BO)
    assert [s.id for s in store.shares_of(*T1)] == [bos.id, cys.id]
    assert [s.id for s in store.shares_of(*T1, made_by=BO)] == [bos.id]
    assert not store.revoke_share(cys.id, by=BO)  # a member, someone else's link
    assert store.share_link(cys.id).live
    assert store.revoke_share(cys.id, by=ADA, owner=True)
    assert store.revoke_share(bos.id, by=BO)
    assert store.shares_of(*T1) == [] and [s.id for s in store.shares_of(*T2)] == [elsewhere.id]
    assert store.revoke_shares_of(*T2) == 1 and store.shares_of(*T2) == []


def test_revokes_at_the_same_moment_revoke_once(store):
    _, link = store.create_share(*T1, created_by=BO)
    with ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda _: store.revoke_share(link.id, by=BO), range(8)))
    assert done.count(True) == 1
