"""Likes, comments and bookmarks in the store, on SQLite and PostgreSQL alike (issue 26 item 4): a like and a
bookmark are one per person and transcript, replies go one level deep, a comment is deleted by its author or the
owner, comments are cleaned (control and bidi override characters out, a length cap, empty refused), a page's
counts are one query, and "bookmarked by me" pages by keyset."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from tiktok.store.interactions import MAX_COMMENT_CHARS, clean_comment

ADA, BO = "ada-open-id", "bo-open-id"
ACCOUNT = "acct-open-id"
T1, T2, T3 = (ACCOUNT, "7300000000000000001"), (ACCOUNT, "7300000000000000002"), ("other", "7300000000000000003")


@pytest.fixture(autouse=True)
def ada_owns(store):
    store.sign_in_person(ADA, "Ada", "", may_own=True)


def count_queries(store):
    """Statements the store's engine runs, from the moment this is called."""
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def test_a_like_and_a_bookmark_are_one_per_person_and_transcript(store):
    assert store.set_like(ADA, *T1, True) is True
    assert store.set_like(ADA, *T1, True) is False  # twice is one like, and no error
    assert store.set_like(BO, *T1, True) is True
    assert store.set_bookmark(BO, *T1, True) is True and store.set_bookmark(BO, *T1, True) is False
    counts = store.counts([T1, T2], BO)
    assert counts[T1].likes == 2 and counts[T1].liked and counts[T1].bookmarked
    assert counts[T2].likes == 0 and not counts[T2].liked and not counts[T2].bookmarked
    assert not store.counts([T1], ADA)[T1].bookmarked  # Bo's bookmark is Bo's
    assert store.set_like(ADA, *T1, False) is True and store.set_like(ADA, *T1, False) is False
    assert store.counts([T1], ADA)[T1].likes == 1 and not store.counts([T1], ADA)[T1].liked


def test_counts_for_a_page_are_one_query(store):
    keys = [(ACCOUNT, f"73{n:017d}") for n in range(20)]
    for n, key in enumerate(keys):
        if n % 2:
            store.set_like(BO, *key, True)
        if n % 3 == 0:
            store.add_comment(ADA, *key, f"comment {n}")
    seen = count_queries(store)
    counts = store.counts(keys, BO)
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) == 1, seen
    assert [counts[k].likes for k in keys] == [n % 2 for n in range(20)]
    assert [counts[k].comments for k in keys] == [int(n % 3 == 0) for n in range(20)]


def test_replies_go_one_level_deep_and_under_the_same_transcript(store, clock):
    top = store.add_comment(ADA, *T1, "First!")
    clock.now += 5
    reply = store.add_comment(BO, *T1, "An answer", parent_id=top.id)
    assert reply.parent_id == top.id and reply.at == clock.now
    with pytest.raises(ValueError, match="top-level comment only"):
        store.add_comment(ADA, *T1, "answer to the answer", parent_id=reply.id)
    with pytest.raises(ValueError, match="is gone"):
        store.add_comment(ADA, *T2, "elsewhere", parent_id=top.id)
    with pytest.raises(ValueError, match="is gone"):
        store.add_comment(ADA, *T1, "nowhere", parent_id=10**9)
    [thread] = store.threads(*T1)
    assert thread.comment.text == "First!" and thread.comment.name == "Ada"
    assert [r.text for r in thread.replies] == ["An answer"] and thread.replies[0].name == BO  # Bo is not a person yet
    assert store.counts([T1], None)[T1].comments == 2


def test_a_comment_is_deleted_by_its_author_or_the_owner_only(store):
    top = store.add_comment(ADA, *T1, "Ada's")
    bos = store.add_comment(BO, *T1, "Bo's", parent_id=top.id)
    other = store.add_comment(BO, *T1, "Bo's second")
    assert store.delete_comment(top.id, by=BO, owner=False) is False  # not Bo's
    assert store.delete_comment(bos.id, by=BO, owner=False) is True
    assert store.delete_comment(bos.id, by=BO, owner=False) is False  # already gone
    assert store.delete_comment(other.id, by=ADA, owner=True) is True  # the owner deletes anyone's
    assert store.comment(other.id).deleted and store.comment(other.id).text == ""
    [thread] = store.threads(*T1)
    assert thread.comment.id == top.id and thread.replies == ()  # deleted ones leave the thread
    assert store.counts([T1], None)[T1].comments == 1


def test_a_deleted_comment_keeps_its_place_while_a_reply_hangs_under_it(store):
    top = store.add_comment(ADA, *T1, "question")
    store.add_comment(BO, *T1, "answer", parent_id=top.id)
    store.delete_comment(top.id, by=ADA, owner=False)
    [thread] = store.threads(*T1)
    assert thread.comment.deleted and thread.comment.text == "" and [r.text for r in thread.replies] == ["answer"]
    with pytest.raises(ValueError, match="is gone"):
        store.add_comment(BO, *T1, "late answer", parent_id=top.id)


@pytest.mark.parametrize("raw, stored", [
    ("  hello  ", "hello"),
    ("line one\r\nline two", "line one\nline two"),
    ("a\u202eevil\u202cb", "aevilb"),             # right-to-left override and its pop
    ("\u2067isolate\u2069", "isolate"),
    ("bell\x07 null\x00 esc\x1b[31m", "bell null esc[31m"),
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),  # kept as text: escaping is the page's job
    ("مرحبا", "مرحبا"),                          # right-to-left letters are letters
])
def test_comments_are_cleaned(raw, stored):
    assert clean_comment(raw) == stored


@pytest.mark.parametrize("raw, message", [
    ("", "empty"), ("   \n\t ", "empty"), ("\u202e\u202c", "empty"),
    ("x" * (MAX_COMMENT_CHARS + 1), "at most 2,000 fit"),
])
def test_empty_and_overlong_comments_are_refused(store, raw, message):
    with pytest.raises(ValueError, match=message):
        store.add_comment(ADA, *T1, raw)
    assert store.threads(*T1) == []


def test_exactly_the_cap_fits(store):
    assert len(store.add_comment(ADA, *T1, "x" * MAX_COMMENT_CHARS).text) == MAX_COMMENT_CHARS


def test_bookmarked_by_me_pages_newest_first_by_keyset(store):
    keys = [(ACCOUNT, f"73{n:017d}") for n in range(7)]
    for key in keys:
        store.set_bookmark(BO, *key, True)
    store.set_bookmark(ADA, *T3, True)  # someone else's
    first = store.bookmarked(BO, per_page=3)
    assert first.keys == tuple(reversed(keys[-3:])) and first.newer is None and first.older is not None
    second = store.bookmarked(BO, before=first.older, per_page=3)
    assert second.keys == tuple(reversed(keys[1:4])) and second.newer is not None and second.older is not None
    last = store.bookmarked(BO, before=second.older, per_page=3)
    assert last.keys == (keys[0],) and last.older is None and last.newer is not None
    back = store.bookmarked(BO, after=last.newer, per_page=3)
    assert back.keys == second.keys and back.newer == second.newer and back.older == second.older
    store.set_bookmark(BO, *keys[5], False)
    assert keys[5] not in store.bookmarked(BO, per_page=10).keys
    assert store.bookmarked(ADA).keys == (T3,)
    assert store.bookmarked("nobody").keys == ()
