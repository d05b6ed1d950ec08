"""Each account's posting budget (issue 27, item 5): TikTok's daily cap of Direct Posts (15, reference section 7),
its 5 pending inbox drafts (reference section 3.3) and an unaudited app's 5 posting users.

The budget is pure (:mod:`tiktok.posting.budget`, tested by tables); its facts come from one store query, tested on
SQLite and PostgreSQL, index-backed so that its cost follows the last day's posts and not the history; and the
runner, over real HTTP to the emulator, never sends a post a cap would refuse: it waits (try later) with the cap and
when room comes back, and the emulator's request log shows no init for it.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import replace

import pytest
from sqlalchemy import event

from tiktok.posting.budget import (DAILY_DIRECT_POSTS, PENDING_DRAFTS, TOO_MANY_DRAFTS, TOO_MANY_POSTS, WINDOW_S,
                                   Cap, budget)
from tiktok.posting.policy import UNAUDITED_POSTING_USERS
from tiktok.store.model import Started
from tiktok.store.records import PostRecord, State
from tiktok.store.sqlite import open_sqlite
from tiktok.web.post_store import store_of
from tests.media_fixtures import make_video
from tests.support.flows import link_account
from tests.support.stores import KINDS, FixedClock, make_store
from tests.test_upload_cli import ADA, BO, link, run, write_manifest

NOW = 1_800_000_000.0
DIRECT_INIT = "/v2/post/publish/video/init/"
INBOX_INIT = "/v2/post/publish/inbox/video/init/"


# -- the budget, pure -----------------------------------------------------------------------------------------------

def test_the_caps_are_tiktoks_documented_numbers():
    assert (DAILY_DIRECT_POSTS, PENDING_DRAFTS, UNAUDITED_POSTING_USERS, WINDOW_S) == (15, 5, 5, 86_400)


@pytest.mark.parametrize("ages_h, direct_left, room_in_h", [
    ([], 15, None),
    ([1] * 14, 1, None),
    ([23, 20] + [1] * 13, 0, 1),  # the oldest of the 15 leaves the window first: in 1 hour
    ([30, 25] + [2] * 14, 1, None),  # older than 24 hours: not counted
    ([5] * 16, 0, 19),  # 16 counted (another tool posted too): room when two have left, both 5 h old
])
def test_direct_posts_against_the_daily_cap(ages_h, direct_left, room_in_h):
    started = [Started(ADA, draft=False, at=NOW - h * 3600) for h in ages_h] + [Started(BO, False, NOW)] * 20
    ada = budget(ADA, started, NOW)
    assert ada.direct.left == direct_left
    assert ada.direct.room_at == (None if room_in_h is None else NOW + room_in_h * 3600)
    assert ada.used_up is (direct_left == 0)
    assert (ada.refusal(draft=False) is None) is (direct_left > 0)
    assert ada.refusal(draft=True) is None and ada.drafts.left == 5  # a draft is another cap


def test_a_refusal_names_the_cap_when_room_comes_back_and_tiktoks_code():
    ada = budget(ADA, [Started(ADA, False, NOW - 23 * 3600)] * 15, NOW)
    why = ada.refusal(draft=False, name="@ada")
    assert why.startswith("waiting: @ada has used TikTok's cap of 15 Direct Posts in 24 hours (15 made in the last "
                          "24 hours), so nothing was sent; room comes back at "), why
    assert "(in 1 h)" in why and f"code {TOO_MANY_POSTS}" in why
    drafts = budget(ADA, [Started(ADA, True, NOW - 600)] * 5, NOW)
    assert "5 drafts in 24 hours" in drafts.refusal(draft=True) and f"code {TOO_MANY_DRAFTS}" in drafts.refusal(True)
    assert "(in 23 h 50 min)" in drafts.refusal(draft=True)


def test_each_post_that_goes_uses_its_room():
    ada = budget(ADA, [Started(ADA, False, NOW - 60)] * 13, NOW)
    ada = ada.took(draft=False)
    assert ada.refusal(False) is None
    ada = ada.took(draft=False)
    assert ada.direct.used == 15 and ada.refusal(False) is not None
    assert ada.direct.room_at == NOW - 60 + WINDOW_S
    assert Cap("drafts", TOO_MANY_DRAFTS, 5).took(NOW).used == 1


def test_the_composer_line_and_the_unaudited_apps_posting_users():
    assert budget(ADA, [], NOW).warning("@ada") is None
    full = budget(ADA, [Started(ADA, False, NOW - 3600)] * 15, NOW)
    assert full.warning("@ada").startswith("@ada has used today's budget: 15 of TikTok's 15 Direct Posts in 24 "
                                           "hours. A Direct Post added now waits until ")
    assert full.warning("@ada").endswith("; an inbox draft can still go (5 of 5 left).")
    others = {f"user{n}" for n in range(5)}
    assert budget(ADA, [], NOW, posting_users=others | {ADA}).users_full  # five others: a sixth is refused
    assert not budget(ADA, [], NOW, posting_users={*list(others)[:4], ADA}).users_full
    assert not budget(ADA, [], NOW).users_full  # audited (or unknown): no such cap
    assert "5 other accounts posted through this app" in budget(ADA, [], NOW, posting_users=others).warning("@ada")
    assert budget(ADA, [], NOW, posting_users=others).summary().endswith("5 of 5 (used up)")


# -- the store's facts, on SQLite and PostgreSQL ----------------------------------------------------------------------

def seed(store, user_id: str, count: int, *, draft: bool = False, outcome: State | None = None,
         publish_id: bool = True, tag: str = "") -> None:
    """``count`` posts of ``user_id`` that went to TikTok now (the store's clock): published (or in the inbox), or
    ``outcome`` with or without a publish_id (an init refused has none)."""
    for n in range(count):
        entry = {"user_id": user_id, "video_path": "/media/clip.mp4", "description": f"seeded {tag} {n}",
                 **({"draft": True} if draft else {"privacy": "SELF_ONLY"})}
        key = hashlib.sha256(f"seed-{tag}-{user_id}-{int(draft)}-{n}".encode()).hexdigest()  # as entry_key: 64
        post = store.add(entry, key=key, due_at=None)
        record = store.start(post.id, post.revision, PostRecord(key=key, user_id=user_id, state=State.PENDING_INIT,
                                                                privacy=None if draft else "SELF_ONLY"))
        state = outcome or (State.IN_INBOX if draft else State.POSTED)
        if state != State.PENDING_INIT:
            store.save(post.id, replace(record, state=state, publish_id=f"p_{key}" if publish_id else None,
                                        published_at=store.clock() if state in (State.POSTED, State.IN_INBOX)
                                        else None))


@pytest.fixture(params=KINDS)
def clocked(request, tmp_path):
    clock = FixedClock(NOW - 3 * WINDOW_S)
    made = make_store(request.param, tmp_path, request, clock=clock)
    yield made, clock
    made.store.close()


def test_the_store_counts_an_accounts_attempts_of_the_last_24_hours(clocked):
    (made, clock), store = clocked, clocked[0].store
    seed(store, ADA, 40, tag="history")  # three days ago: history, never counted
    clock.now = NOW - 23 * 3600
    seed(store, ADA, 3, tag="day")
    seed(store, ADA, 2, draft=True, tag="day")
    seed(store, ADA, 1, outcome=State.FAILED, tag="accepted-then-failed")  # TikTok counted its init
    seed(store, ADA, 1, outcome=State.FAILED, publish_id=False, tag="refused")  # an init refused: not counted
    seed(store, ADA, 1, outcome=State.PENDING_INIT, tag="unanswered")  # may have been taken: counted
    seed(store, BO, 4, tag="other")
    clock.now = NOW
    store.add({"user_id": ADA, "video_path": "/media/clip.mp4", "description": "queued"}, key="queued", due_at=None)
    started = store.started_since(NOW - WINDOW_S)
    assert sorted((s.user_id, s.draft) for s in started if s.user_id == ADA) == [(ADA, False)] * 5 + [(ADA, True)] * 2
    assert len([s for s in started if s.user_id == BO]) == 4
    assert all(s.at == NOW - 23 * 3600 for s in started)
    mine = store.started_since(NOW - WINDOW_S, user_id=BO)
    assert [s.user_id for s in mine] == [BO] * 4
    ada = budget(ADA, started, NOW)
    assert (ada.direct.used, ada.drafts.used, ada.direct.left, ada.drafts.left) == (5, 2, 10, 3)
    assert budget(ADA, store.started_since(NOW + 3600 - WINDOW_S), NOW + 3600).direct.used == 0  # a day later


def test_the_query_reads_the_board_updated_index_not_the_history(clocked):
    (made, _), store = clocked, clocked[0].store
    seed(store, ADA, 3)
    statements: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "tiktok_store_posts" in statement and "record" in statement:
            statements.append((statement, parameters))
    event.listen(store.engine, "before_cursor_execute", keep)
    try:
        store.started_since(NOW - WINDOW_S, user_id=ADA)
    finally:
        event.remove(store.engine, "before_cursor_execute", keep)
    (statement, parameters), = statements
    with store.engine.connect() as conn:
        if made.kind == "sqlite":
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                           parameters))
        else:
            conn.exec_driver_sql("SET enable_seqscan = off")  # a tiny table: ask whether an index serves it at all
            plan = " ".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert "tiktok_store_posts_board_updated" in plan, plan
    assert not re.search(r"SCAN (TABLE )?tiktok_store_posts\b(?! USING)", plan) and "Seq Scan" not in plan, plan


# -- the runner, over real HTTP to the emulator ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("budget-clip") / "clip.mp4")


def inits(remote, path: str) -> int:
    return sum(1 for r in remote.requests() if r["path"] == path)


@pytest.mark.slow  # upload_to_tiktok.py in its own process, as cron runs it
def test_a_run_leaves_a_post_the_daily_cap_would_refuse_waiting_and_sends_no_init(tmp_path, emulator, remote, clip):
    link(tmp_path, emulator)
    store = open_sqlite(tmp_path / "tiktok.db")  # the store the command uses: beside the token file
    try:
        seed(store, ADA, DAILY_DIRECT_POSTS - 1, tag="earlier today")  # 14 of 15 used
    finally:
        store.close()
    write_manifest(tmp_path, [
        {"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "the 15th"},
        {"user_id": ADA, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "a 16th"},
        {"user_id": ADA, "video_path": str(clip), "draft": True, "description": "a draft"},
        {"user_id": BO, "video_path": str(clip), "privacy": "SELF_ONLY", "description": "another account"},
    ])
    done = run(tmp_path, emulator, "--json", "--poll-interval", "0.01")
    assert done.returncode == 4, done.stdout + done.stderr  # try later: the 16th waits for room
    outcomes = {o["post_id"]: o for o in json.loads(done.stdout)["outcomes"]}
    statuses = [outcomes[post_id]["status"] for post_id in sorted(outcomes)[-4:]]
    assert statuses == ["done", "try_later", "done", "done"], outcomes
    waiting = outcomes[sorted(outcomes)[-3]]["detail"]
    assert re.match(r"waiting: \S+ has used TikTok's cap of 15 Direct Posts in 24 hours \(15 made in the last 24 "
                    r"hours\), so nothing was sent; room comes back at .+ \(in 23 h 59 min\)", waiting), waiting
    assert f"code {TOO_MANY_POSTS}" in waiting
    # the emulator saw exactly the three posts that went: no init for the 16th
    assert (inits(remote, DIRECT_INIT), inits(remote, INBOX_INIT)) == (2, 1)
    assert sorted(p["open_id"] for p in remote.state()["posts"]) == sorted([ADA, ADA, BO])
    store = open_sqlite(tmp_path / "tiktok.db")
    try:
        (left,) = [p for p in store.every_post() if p.entry and p.entry.get("description") == "a 16th"]
        assert (left.state, left.record) == ("queued", None)  # still waiting in the queue, never started
    finally:
        store.close()
    again = run(tmp_path, emulator, "--json", "--poll-interval", "0.01")  # the next run (same day): still waiting
    assert again.returncode == 4 and inits(remote, DIRECT_INIT) == 2, again.stdout + again.stderr


@pytest.mark.slow
def test_accounts_lists_each_accounts_budget(tmp_path, emulator):
    link(tmp_path, emulator)
    store = open_sqlite(tmp_path / "tiktok.db")
    try:
        seed(store, ADA, DAILY_DIRECT_POSTS)
        seed(store, BO, 2, draft=True)
    finally:
        store.close()
    done = run_command(tmp_path, emulator, "accounts")
    assert done.returncode == 0 and ADA in done.stdout, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    ada = lines[[n for n, line in enumerate(lines) if ADA in line][0] + 1]
    bo = lines[[n for n, line in enumerate(lines) if BO in line][0] + 1]
    assert ada.startswith("  budget: Direct Posts 15 of 15 in 24 h (used up; room at "), ada
    assert ada.endswith("drafts 0 of 5 in 24 h"), ada
    assert bo == "  budget: Direct Posts 0 of 15 in 24 h, drafts 2 of 5 in 24 h", bo


def run_command(workdir, emulator, *args: str):
    import os
    import subprocess
    import sys

    from tests.test_upload_cli import ROOT
    env = {"PATH": os.environ["PATH"], "HOME": str(workdir), "PYTHONPATH": str(ROOT),
           "TIKTOK_CLIENT_KEY": emulator.config.client_key, "TIKTOK_CLIENT_SECRET": emulator.config.client_secret,
           "TIKTOK_API_BASE": emulator.url, "TOKENS_FILE": str(workdir / "user_tokens.json")}
    return subprocess.run([sys.executable, "-m", "tiktok", *args], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=120)



def test_the_composer_warns_under_the_account_picker_when_todays_budget_is_used_up(serve_app, emulator, oauth,
                                                                                    store, tmp_path):
    for open_id in (ADA, BO):
        link_account(emulator.url, store, oauth, open_id, scopes=("user.info.basic", "video.publish", "video.upload"))
    served = serve_app(MANIFEST_FILE=str(tmp_path / "videos_to_upload.json"), MEDIA_DIR=str(tmp_path / "media"))
    seed(store_of(served.flask_app), ADA, DAILY_DIRECT_POSTS)  # the app's own store, at the app's time
    web = served.client()
    page = html.unescape(web.get(f"/posts/new?open_id={ADA}").text)
    line = re.search(r'<p class="budget-warning" id="budget-warning" role="status">([^<]*)</p>', page)
    assert line, page
    assert re.fullmatch(r"\S+ has used today's budget: 15 of TikTok's 15 Direct Posts in 24 hours\. A Direct Post "
                        r"added now waits until .+; an inbox draft can still go \(5 of 5 left\)\.", line.group(1))
    assert page.index('id="account-form"') < line.start() < page.index('id="compose-form"')  # under the picker
    assert 'id="budget-warning"' not in web.get(f"/posts/new?open_id={BO}").text  # Bo has room
