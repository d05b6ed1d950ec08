"""Scale-out benchmark: the PostgreSQL backend against the JSON files, and workers against one worker.

    .venv/bin/python bench/scale.py [--accounts 1000] [--procs 1,8,32] [--seconds 3]
                                    [--post-accounts 12] [--posts-each 3] [--latency 0.05]

Starts a throwaway PostgreSQL cluster (Debian's initdb, as the tests do, but with PostgreSQL's own durability: fsync
and synchronous_commit on, as shipped, where the tests' clusters turn fsync off; the token file is fsynced too) and
measures, side by side in this run:

1. Locked token updates per second over ``--accounts`` accounts, with 1, 8 and 32 processes at once: each process
   loops for ``--seconds`` over random accounts doing what a refresh does to the store (lock the account, replace
   both tokens and the deadlines, write), through the real stores: the token file (one lock and one atomic rewrite
   of the whole file per update) against PostgreSQL (one row locked with SELECT ... FOR UPDATE). The window opens
   once every process has started and opened its store (each says so, then waits for the start time), so a slow
   start on a busy machine is not counted; only updates inside the window are counted.
2. Posts per minute with 1 and with 3 ``python -m tiktok worker`` processes (default concurrency) over
   ``--post-accounts`` accounts with ``--posts-each`` small videos each, against the emulator in its own process
   with ``--latency`` seconds per API request (a stand-in for the round trip to TikTok). The workers run with the
   shipped defaults (no WORKER_* setting: the dispatcher every 10 s). Each side gets fresh accounts and a fresh
   database; the clock runs from the workers' start to the last post's completion.

Prints each figure and the ratios, and checks every post was made once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/ itself: its queue.py must not hide the standard library's

from bench.emulated import start_emulator  # noqa: E402

from tiktok.emulator.config import generated_users  # noqa: E402
from tiktok.emulator.remote import EmulatorRemote  # noqa: E402

UPDATER = r"""
import random, sys, time
from tiktok.auth.tokens import TokenStore
from tiktok.auth.oauth import TokenGrant
target, count, seconds, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
if target.startswith("postgresql://"):
    from tiktok.auth.pg_store import PgTokenStore
    store = PgTokenStore(target)
    store.load()  # open the pool before the window
else:
    store = TokenStore(target)
rng = random.Random(seed)
ids = [f"acct-{n:05d}" for n in range(count)]
print("ready", flush=True)
start = float(sys.stdin.readline())  # the same start time for every process, sent once all are ready
while time.time() < start:
    time.sleep(0.001)
done, end, n = 0, start + seconds, 0
while time.time() < end:
    open_id = rng.choice(ids)
    n += 1
    grant = TokenGrant(open_id=open_id, access_token=f"act.{seed}.{n}" + "x" * 60,
                       refresh_token=f"rft.{seed}.{n}" + "y" * 60, expires_in=7200,
                       refresh_expires_in=15_552_000, scopes=("user.info.basic",))
    with store.locked(open_id) as accounts:
        accounts[open_id] = accounts[open_id].with_grant(grant, time.time())
    if time.time() <= end:
        done += 1
print(done)
"""


def seed_accounts(count: int, tokens: Path, database: str) -> None:
    from tiktok.auth.oauth import TokenGrant
    from tiktok.auth.pg_store import PgTokenStore
    from tiktok.auth.tokens import Account, TokenStore

    accounts = {}
    for n in range(count):
        open_id = f"acct-{n:05d}"
        grant = TokenGrant(open_id=open_id, access_token="act." + "x" * 64, refresh_token="rft." + "y" * 64,
                           expires_in=7200, refresh_expires_in=15_552_000, scopes=("user.info.basic",))
        accounts[open_id] = Account.from_grant(grant, time.time(), username=f"user{n}")
    with TokenStore(tokens).transaction() as stored:
        stored.update(accounts)
    with PgTokenStore(database).transaction() as stored:
        stored.update(accounts)


def updates_per_second(target: str, accounts: int, procs: int, seconds: float) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [subprocess.Popen([sys.executable, "-c", UPDATER, target, str(accounts), str(seconds), str(seed)],
                             env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for seed in range(procs)]
    for run in runs:  # every process up, its store open
        if run.stdout.readline().strip() != "ready":
            raise SystemExit(f"updater failed: {run.communicate(timeout=60)[1][-2000:]}")
    start = time.time() + 0.2
    total = 0
    for run in runs:
        run.stdin.write(f"{start}\n")
        run.stdin.flush()
    for run in runs:
        out, err = run.communicate(timeout=120)
        if run.returncode != 0:
            raise SystemExit(f"updater failed: {err[-2000:]}")
        total += int(out.strip())
    return total / seconds


def posts_per_minute(server, url: str, users, clip: Path, posts_each: int, workers: int, work: Path) -> float:
    import requests

    from tests.support.flows import link_account
    from tests.support.queue_workers import queue_post
    from tiktok.auth.oauth import OAuthClient
    from tiktok.auth.pg_store import PgTokenStore
    from tiktok.store.postgres import open_postgres

    database = migrated(server.new_database())
    store = PgTokenStore(database)
    oauth = OAuthClient(requests.Session(), api_base=url, client_key="emulator-client-key",
                        client_secret="emulator-client-secret")
    for user in users:
        link_account(url, store, oauth, user.open_id, scopes=("user.info.basic", "video.publish", "video.upload"))
    posts = open_postgres(database)
    for n in range(posts_each):
        for user in users:
            queue_post(posts, {"user_id": user.open_id, "video_path": str(clip), "privacy": "SELF_ONLY",
                               "description": f"{user.username} {n}"})
    posts.close()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TIKTOK_", "WORKER_"))}
    env.update(PYTHONPATH=str(ROOT), TIKTOK_CLIENT_KEY="emulator-client-key",
               TIKTOK_CLIENT_SECRET="emulator-client-secret", TIKTOK_API_BASE=url, DATABASE_URL=database)
    log = (work / f"workers-{workers}.log").open("w")
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "tiktok", "worker"], env=env, cwd=work, stdout=log,
                              stderr=subprocess.STDOUT) for _ in range(workers)]
    expected = posts_each * len(users)
    try:
        while posted(database) < expected:
            if any(p.poll() is not None for p in procs) or time.perf_counter() - start > 600:
                raise SystemExit(f"workers stopped or took too long; see {log.name}")
            time.sleep(0.1)
        elapsed = time.perf_counter() - start
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
    return expected / elapsed * 60


def migrated(database: str) -> str:
    """``database`` migrated as ``python -m tiktok db migrate`` does it (accounts, jobs, the post store)."""
    from tiktok.db.migrations import migrate
    from tiktok.store.postgres import migrate as migrate_store

    migrate(database)
    migrate_store(database)
    return database


def posted(database: str) -> int:
    import psycopg

    with psycopg.connect(database) as conn:
        return conn.execute("SELECT count(*) FROM tiktok_store_posts WHERE state = 'posted'").fetchone()[0]


def durability(url: str) -> str:
    """The server's durability settings, as it reports them (``fsync=on synchronous_commit=on``)."""
    import psycopg

    with psycopg.connect(url) as conn:
        return " ".join(f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}"
                        for name in ("fsync", "synchronous_commit", "wal_sync_method"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--procs", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--post-accounts", type=int, default=12)
    parser.add_argument("--posts-each", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    from tests.support.postgres import start_server, stop_server
    from tests.support.posting import padded_video

    server = start_server(durable=True)  # fsync on, as a real server runs (and as the token file is written)
    try:
        print(f"PostgreSQL: {durability(server.admin_url)}")
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as scratch:
            work = Path(scratch)
            tokens = work / "user_tokens.json"
            database = migrated(server.new_database())
            seed_accounts(args.accounts, tokens, database)
            print(f"locked token updates per second over {args.accounts:,} accounts ({args.seconds:g} s windows)")
            print(f"  {'processes':>9}  {'JSON file':>10}  {'PostgreSQL':>10}  {'PG / JSON':>9}")
            for procs in (int(p) for p in args.procs.split(",")):
                json_rate = updates_per_second(str(tokens), args.accounts, procs, args.seconds)
                pg_rate = updates_per_second(database, args.accounts, procs, args.seconds)
                print(f"  {procs:>9}  {json_rate:>10.0f}  {pg_rate:>10.0f}  {pg_rate / json_rate:>9.1f}")
            stored = json.loads(tokens.read_text())["accounts"]
            assert len(stored) == args.accounts, "the token file lost an account"

            users = generated_users(2 * args.post_accounts)
            emulator, url = start_emulator(work, "--extra-users", str(len(users)), "--latency", str(args.latency))
            try:
                clip = padded_video(work / "clip.mp4", 2_000_000)
                one = posts_per_minute(server, url, users[:args.post_accounts], clip, args.posts_each, 1, work)
                three = posts_per_minute(server, url, users[args.post_accounts:], clip, args.posts_each, 3, work)
                posts = EmulatorRemote(url).state()["posts"]
                limited = EmulatorRemote(url).rate_limited()
            finally:
                emulator.terminate()
                emulator.wait(timeout=10)
            expected = 2 * args.post_accounts * args.posts_each
            print(f"posts per minute over {args.post_accounts} accounts x {args.posts_each} posts, "
                  f"{args.latency * 1000:.0f} ms per API request")
            print(f"  1 worker   {one:7.1f}")
            print(f"  3 workers  {three:7.1f}")
            print(f"  ratio 3 workers / 1 worker: {three / one:.2f}")
            print(f"  posts made: {len(posts)} of {expected} (each once: {'yes' if len(posts) == expected else 'NO'}); "
                  f"429 answers: {limited}")
            return 0 if len(posts) == expected and limited == 0 else 1
    finally:
        stop_server(server)


if __name__ == "__main__":
    sys.exit(main())
