"""The post store against its own history: the same work with H = 0, 1,000 and 10,000 posts already in it.

    .venv/bin/python bench/queue.py [--history 0,1000,10000] [--repeat 3] [--big 1000000000] [--latency 0.02]

Every figure is measured at each H in one run, the H levels taken in turn (paired) and in a rotating order, and
compared with H = 0 or with the floor it names. Targets (issue 18), at the largest H:

- 20 new posts over 4 accounts, the real ``upload_to_tiktok.py`` as cron runs it (process start, manifest import,
  posting against the emulator with ``--latency`` per API request): wall time at most 1.15 times H = 0;
- one 1 GB (sparse) video posted: bytes this process wrote to the store's files (SQLite, its WAL and claim files)
  during the post, under 1 MB;
- ``/posts/`` over loopback HTTP: p95 at most 50 ms and at most 200 KB; the polling endpoint (``/posts/board?since=``,
  one card changed): p95 at most 50 ms;
- rescheduling one post (the page's POST): at most 20 ms;
- the app's idle tick (the background runner's round with its manifest unchanged and nothing due): at most 5 ms of CPU.

The history is written straight into a copy of the store (posted, failed, scheduled and cancelled posts, with
records like a run writes), so seeding 10,000 posts takes a second. Exits 1 when a target is missed.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # this file is named queue.py: the standard library's queue must win for everything below

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.emulated import start_emulator  # noqa: E402

from tiktok.emulator.config import generated_users  # noqa: E402
from tiktok.emulator.remote import EmulatorRemote  # noqa: E402
from tiktok.store import schema  # noqa: E402
from tiktok.store.records import PostRecord, State, entry_key  # noqa: E402
from tiktok.store.sqlite import open_sqlite  # noqa: E402
from tests.support.posting import padded_video, sha256_file  # noqa: E402

SCOPES = ("user.info.basic", "video.publish", "video.upload")
NEW_POSTS, ACCOUNTS = 20, 4
TARGET_NEW_RATIO = 1.15
TARGET_BIG_BYTES = 1_000_000
TARGET_PAGE_P95_S, TARGET_PAGE_BYTES = 0.050, 200_000
TARGET_RESCHEDULE_S = 0.020
TARGET_TICK_CPU_S = 0.005
SEED_USER = "00000000-0000-4000-8000-999999999999"


def seed(path: Path, count: int, now: float) -> None:
    """``count`` posts of history in a new store at ``path``: 85 % posted, 5 % failed, 5 % scheduled, 5 % cancelled."""
    store = open_sqlite(path)
    rows = []
    for n in range(count):
        entry = {"user_id": SEED_USER, "video_path": f"/archive/clip-{n}.mp4", "description": f"history {n}",
                 "tags": ["archive"], "privacy": "SELF_ONLY"}
        key = entry_key(entry)
        kind = n % 20
        due_at, record, ended = None, None, None
        if kind < 17:
            record = PostRecord(key=key, user_id=SEED_USER, state=State.POSTED, publish_id=f"v_pub_file~v2.{n}",
                                status="PUBLISH_COMPLETE", plan={"video_size": 20_000_000, "chunk_size": 10_000_000,
                                                                  "total_chunk_count": 2}, next_chunk=2,
                                privacy="SELF_ONLY", username="archive", published_at=now - n * 60, outcome="done",
                                emulated=True, updated_at=now - n * 60)
        elif kind == 17:
            record = PostRecord(key=key, user_id=SEED_USER, state="failed", publish_id=f"v_pub_file~v2.{n}",
                                fail_reason="spam_risk_text", error="TikTok failed the post: spam_risk_text",
                                outcome="failed", emulated=True, updated_at=now - n * 60)
        elif kind == 18:
            due_at = now + 86400 * 30 + n
            entry["post_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(due_at))
        else:
            ended = "cancelled"
        rows.append({"key": key, "user_id": SEED_USER, "entry": json.dumps(entry), "origin": "app", "due_at": due_at,
                     "check_caption": False, "revision": 1, "change": n + 1, "created_at": now - n * 60,
                     "updated_at": now - n * 60, **store._record_values(record, ended)})
    with store.engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(schema.posts.insert(), rows[start:start + 1000])
        conn.execute(schema.counters.update().values(value=count))
    store.close()


def link(url: str, tokens: Path, open_ids: list[str]) -> None:
    import requests

    from tests.support.flows import link_account
    from tiktok.auth.oauth import OAuthClient
    from tiktok.auth.tokens import TokenStore

    store = TokenStore(tokens)
    oauth = OAuthClient(requests.Session(), api_base=url, client_key="emulator-client-key",
                        client_secret="emulator-client-secret")
    for open_id in open_ids:
        link_account(url, store, oauth, open_id, scopes=SCOPES)


def environment(url: str, folder: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TIKTOK_", "STORE_", "DATABASE"))}
    env.update(TIKTOK_CLIENT_KEY="emulator-client-key", TIKTOK_CLIENT_SECRET="emulator-client-secret",
               TIKTOK_API_BASE=url, TOKENS_FILE=str(folder / "user_tokens.json"),
               STORE_FILE=str(folder / "tiktok.db"), PYTHONPATH=str(ROOT))
    return env


def twenty_new(url: str, seeded: Path, folder: Path, clip: Path, open_ids: list[str]) -> float:
    """Wall time of ``upload_to_tiktok.py`` posting 20 new entries into a copy of ``seeded``."""
    folder.mkdir()
    shutil.copy(seeded, folder / "tiktok.db")
    link(url, folder / "user_tokens.json", open_ids)
    manifest = [{"user_id": open_ids[n % len(open_ids)], "video_path": str(clip), "privacy": "SELF_ONLY",
                 "description": f"new post {n + 1} in {folder.name}"} for n in range(NEW_POSTS)]
    (folder / "videos_to_upload.json").write_text(json.dumps(manifest))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "upload_to_tiktok.py"), "--json"], cwd=folder,
                          env=environment(url, folder), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    outcomes = json.loads(done.stdout or "{}").get("outcomes", [])
    if done.returncode != 0 or len([o for o in outcomes if o["status"] == "done"]) != NEW_POSTS:
        raise SystemExit(f"{folder.name}: exit {done.returncode}\n{done.stderr[-3000:]}")
    return seconds


BIG = """
import json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from tiktok.config import load_settings
from tiktok.posting.runner import Hooks, RunOptions, run_queue
from tiktok.store.base import open_store
settings = load_settings({env!r})
store = open_store(settings)
def written():
    with open("/proc/self/io") as handle:
        return dict(line.split(": ") for line in handle.read().splitlines())["write_bytes"]
before = int(written())
start = time.perf_counter()
report = run_queue(store, settings, RunOptions(poll_interval_s=0.05), manifest=Path({manifest!r}),
                   hooks=Hooks(say=lambda line: None))
seconds = time.perf_counter() - start
store.close()
print(json.dumps({{"bytes": int(written()) - before, "seconds": seconds,
                   "done": [o.status for o in report.outcomes]}}))
"""


def big_upload(url: str, seeded: Path, folder: Path, video: Path, open_id: str) -> dict:
    """Bytes the posting process wrote to disk while it posted one big video (its only writes are the store's)."""
    folder.mkdir()
    shutil.copy(seeded, folder / "tiktok.db")
    link(url, folder / "user_tokens.json", [open_id])
    manifest = folder / "videos_to_upload.json"
    manifest.write_text(json.dumps([{"user_id": open_id, "video_path": str(video), "privacy": "SELF_ONLY",
                                     "description": "one big video"}]))
    env = environment(url, folder)
    script = BIG.format(root=str(ROOT), env={k: v for k, v in env.items() if k != "PYTHONPATH"},
                        manifest=str(manifest))
    done = subprocess.run([sys.executable, "-c", script], cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"big upload: exit {done.returncode}\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.splitlines()[-1])
    if figures["done"] != ["done"]:
        raise SystemExit(f"big upload did not post: {figures}")
    return figures


def pages(url: str, seeded: Path, folder: Path, requests_each: int) -> dict:
    """/posts/, the polling endpoint, a reschedule and the idle tick, in this process against a copy of ``seeded``."""
    import requests

    from tiktok.emulator.serving import serve_in_thread
    from tiktok.web.app import create_app
    from tiktok.web.queue_runner import runner_of

    folder.mkdir()
    shutil.copy(seeded, folder / "tiktok.db")
    link(url, folder / "user_tokens.json", [])
    (folder / "videos_to_upload.json").write_text(json.dumps(
        [{"user_id": SEED_USER, "video_url": f"https://media.example.com/{n}.mp4", "description": f"m{n}",
          "post_at": "2099-01-01T00:00:00Z"} for n in range(20)]))
    class Late:  # the app answers only to its own port, known once the server is bound
        app = None

        def __call__(self, environ, start_response):
            return self.app(environ, start_response)

    holder = Late()
    served = serve_in_thread(holder)
    config = {"TIKTOK_CLIENT_KEY": "emulator-client-key", "TIKTOK_CLIENT_SECRET": "emulator-client-secret",
              "TIKTOK_API_BASE": url, "TOKENS_FILE": str(folder / "user_tokens.json"), "PORT": str(served.port),
              "STORE_FILE": str(folder / "tiktok.db"), "MANIFEST_FILE": str(folder / "videos_to_upload.json"),
              "QUEUE_TICK_S": "0"}
    app = holder.app = create_app(config)
    http = requests.Session()
    try:
        base = served.url
        runner_run = runner_of(app).run
        runner_run()  # the first tick imports the manifest; the ones measured find it unchanged
        ticks = []
        for _ in range(requests_each):
            began = time.thread_time()
            runner_run()
            ticks.append(time.thread_time() - began)
        page_times, page_size = timed(lambda: http.get(base + "/posts/", timeout=30), requests_each)
        csrf = http.get(base + "/posts/").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        from tiktok.store.sqlite import open_sqlite as reopen
        store = reopen(folder / "tiktok.db")
        scheduled = next(p for p in store.board_page("upcoming", missed_before=0, offset=0, limit=1))
        reschedule = []
        for n in range(requests_each):
            post = store.get(scheduled.id)
            began = time.perf_counter()
            answer = http.post(f"{base}/posts/{post.id}/reschedule", allow_redirects=False, timeout=30, data={
                "csrf": csrf, "revision": str(post.revision), "post_at_local": f"2098-01-{1 + n % 28:02d}T10:00",
                "offset": "+00:00", "zone": "UTC"})
            reschedule.append(time.perf_counter() - began)
            assert answer.status_code == 302 and store.get(post.id).revision == post.revision + 1, answer.text[:300]
        since = store.latest_change() - 1  # the last reschedule is the one change since then
        poll_times, poll_size = timed(lambda: http.get(f"{base}/posts/board?since={since}", timeout=30),
                                      requests_each)
        store.close()
    finally:
        served.shutdown()
    return {"page": page_times, "page_bytes": page_size, "poll": poll_times, "poll_bytes": poll_size,
            "reschedule": reschedule, "tick": ticks}


def timed(call, count: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(count):
        began = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - began)
        if answer.status_code != 200:
            raise SystemExit(f"{answer.url}: HTTP {answer.status_code}")
        size = max(size, len(answer.content))
    return times, size


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", default="0,1000,10000", help="H levels (default 0,1000,10000)")
    parser.add_argument("--repeat", type=int, default=3, help="20-post runs per H level (default 3)")
    parser.add_argument("--requests", type=int, default=60, help="page requests per H level (default 60)")
    parser.add_argument("--big", type=int, default=1_000_000_000, help="bytes of the big video (default 1 GB)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per API request (default 0.02)")
    args = parser.parse_args()
    levels = [int(h) for h in args.history.split(",")]
    now = time.time()
    users = iter(u.open_id for u in generated_users(ACCOUNTS * args.repeat * len(levels) + len(levels)))
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as scratch:
        work = Path(scratch)
        seeded = {}
        for h in levels:
            seeded[h] = work / f"seed-{h}.db"
            seed(seeded[h], h, now)
        emulator, url = start_emulator(work, "--extra-users", str(ACCOUNTS * args.repeat * len(levels) + len(levels)),
                                       "--latency", str(args.latency))
        try:
            clip = padded_video(work / "clip.mp4", 2_000_000)
            big = padded_video(work / "big.mp4", args.big)
            new: dict[int, list[float]] = {h: [] for h in levels}
            for r in range(args.repeat):
                order = levels[r % len(levels):] + levels[:r % len(levels)]  # a rotating order
                for h in order:
                    new[h].append(twenty_new(url, seeded[h], work / f"new-{h}-{r}", clip,
                                             [next(users) for _ in range(ACCOUNTS)]))
            bigs = {h: big_upload(url, seeded[h], work / f"big-{h}", big, next(users)) for h in levels}
            page = {h: pages(url, seeded[h], work / f"pages-{h}", args.requests) for h in levels}
            remote = EmulatorRemote(url)
            digest = sha256_file(big)
            complete = [p for p in remote.state()["posts"] if p["sha256"] == digest and
                        p["status"] == "PUBLISH_COMPLETE"]
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)
    top, base = max(levels), min(levels)
    misses = []

    def check(ok: bool, what: str) -> str:
        if not ok:
            misses.append(what)
        return "ok" if ok else "MISSED"

    print(f"post store benchmark: H = {', '.join(f'{h:,}' for h in levels)} posts of history (SQLite)")
    print(f"20 new posts over {ACCOUNTS} accounts, upload_to_tiktok.py, {args.latency * 1000:.0f} ms per API request, "
          f"median of {args.repeat} (paired, rotating order):")
    for h in levels:
        ratio = statistics.median(new[h]) / statistics.median(new[base])
        print(f"  H={h:>6,}: {statistics.median(new[h]):6.2f} s  ratio to H={base}: {ratio:.2f}")
    ratio = statistics.median(new[top]) / statistics.median(new[base])
    verdict = check(ratio <= TARGET_NEW_RATIO, "new")
    print(f"  target: at H={top:,} at most {TARGET_NEW_RATIO} times H={base}: {verdict}")
    print(f"one {args.big:,}-byte video: bytes written to disk by the posting process during the post:")
    for h in levels:
        print(f"  H={h:>6,}: {bigs[h]['bytes']:>9,} bytes in {bigs[h]['seconds']:.1f} s")
    print(f"  target: under {TARGET_BIG_BYTES:,} bytes: {check(bigs[top]['bytes'] < TARGET_BIG_BYTES, 'big')}"
          f"  (posted with the file's sha256: {len(complete)} of {len(levels)})")
    print(f"pages over loopback HTTP, {args.requests} requests each:")
    for h in levels:
        figures = page[h]
        print(f"  H={h:>6,}: /posts/ p50 {statistics.median(figures['page']) * 1000:5.1f} ms, p95 "
              f"{p95(figures['page']) * 1000:5.1f} ms, {figures['page_bytes']:,} bytes; poll p50 "
              f"{statistics.median(figures['poll']) * 1000:5.1f} ms, p95 {p95(figures['poll']) * 1000:5.1f} ms, "
              f"{figures['poll_bytes']:,} bytes; reschedule p50 {statistics.median(figures['reschedule']) * 1000:5.1f}"
              f" ms, p95 {p95(figures['reschedule']) * 1000:5.1f} ms; idle tick CPU p50 "
              f"{statistics.median(figures['tick']) * 1000:5.2f} ms, p95 {p95(figures['tick']) * 1000:5.2f} ms")
    top_pages = page[top]
    print(f"  targets at H={top:,}: /posts/ p95 <= {TARGET_PAGE_P95_S * 1000:.0f} ms: "
          f"{check(p95(top_pages['page']) <= TARGET_PAGE_P95_S, 'page p95')}, <= {TARGET_PAGE_BYTES:,} bytes: "
          f"{check(top_pages['page_bytes'] <= TARGET_PAGE_BYTES, 'page size')}; poll p95 <= "
          f"{TARGET_PAGE_P95_S * 1000:.0f} ms: {check(p95(top_pages['poll']) <= TARGET_PAGE_P95_S, 'poll p95')}; "
          f"reschedule p95 <= {TARGET_RESCHEDULE_S * 1000:.0f} ms: "
          f"{check(p95(top_pages['reschedule']) <= TARGET_RESCHEDULE_S, 'reschedule')}; idle tick "
          f"CPU p95 <= {TARGET_TICK_CPU_S * 1000:.0f} ms: "
          f"{check(p95(top_pages['tick']) <= TARGET_TICK_CPU_S, 'tick')}")
    if len(complete) != len(levels):
        misses.append("big posts")
    print("all targets met" if not misses else f"MISSED: {', '.join(misses)}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
