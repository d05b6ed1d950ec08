"""Posting benchmark: ``upload_to_tiktok.py`` over a batch of 20 MB videos on 4 accounts, --jobs 1 against the default.

    .venv/bin/python bench/batch.py [--entries 20] [--accounts 4] [--size 20000000] [--latency 0.05] [--repeat 1]

Starts the TikTok emulator in its own process (``--extra-users`` gives the accounts, ``--latency`` makes every API
request wait that many real seconds, a stand-in for the round trip to TikTok; chunk PUTs are not delayed). Makes one
real MP4 padded to ``--size`` bytes, links fresh accounts for every run (each emulated creator may direct-post about
15 times a day, so no account is reused), and runs the real command as a child process, the way cron does, once
with ``--jobs 1`` and once with the default ``--jobs``, each on its own manifest of ``--entries`` entries spread
evenly over ``--accounts`` accounts. Checks every post arrived once with the file's sha256, then prints both wall
times (process start included), their ratio (target: at most 0.35 with 4 accounts) and how many requests the
emulator answered with 429 over the whole benchmark (target: none).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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
from tiktok.posting.limits import DEFAULT_JOBS  # noqa: E402
from tests.support.posting import padded_video, sha256_file  # noqa: E402

SCOPES = ("user.info.basic", "video.publish", "video.upload")
TARGET_RATIO = 0.35


def make_clip(folder: Path, size: int) -> Path:
    return padded_video(folder / "clip.mp4", size, seconds=3.0)


def prepare_run(url: str, folder: Path, clip: Path, open_ids: list[str], entries: int) -> None:
    """A folder with its own token file (``open_ids`` linked) and a manifest of ``entries`` entries."""
    import requests

    from tests.support.flows import link_account
    from tiktok.auth.oauth import OAuthClient
    from tiktok.auth.tokens import TokenStore

    folder.mkdir()
    store = TokenStore(folder / "user_tokens.json")
    oauth = OAuthClient(requests.Session(), api_base=url, client_key="emulator-client-key",
                        client_secret="emulator-client-secret")
    for open_id in open_ids:
        link_account(url, store, oauth, open_id, scopes=SCOPES)
    manifest = [{"user_id": open_ids[n % len(open_ids)], "video_path": str(clip), "privacy": "SELF_ONLY",
                 "description": f"batch entry {n + 1}"} for n in range(entries)]
    (folder / "videos_to_upload.json").write_text(json.dumps(manifest, indent=2))


def post(url: str, folder: Path, jobs: int) -> float:
    env = {key: value for key, value in os.environ.items()  # the run's own folder and store, whatever is set here
           if not key.startswith("TIKTOK_") and key not in ("DATABASE_URL", "STORE_FILE", "MANIFEST_FILE")}
    env.update(TIKTOK_CLIENT_KEY="emulator-client-key", TIKTOK_CLIENT_SECRET="emulator-client-secret",
               TIKTOK_API_BASE=url, TOKENS_FILE=str(folder / "user_tokens.json"), PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(ROOT / "upload_to_tiktok.py"), "--jobs", str(jobs), "--json"],
                          cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"--jobs {jobs} exited {done.returncode}:\n{done.stderr[-3000:]}")
    outcomes = json.loads(done.stdout)["outcomes"]
    if any(o["status"] != "done" for o in outcomes):
        raise SystemExit(f"--jobs {jobs}: not every entry was posted: {outcomes}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20, help="entries per run (default 20)")
    parser.add_argument("--accounts", type=int, default=4, help="accounts the entries are spread over (default 4)")
    parser.add_argument("--size", type=int, default=20_000_000, help="bytes per video (default 20,000,000)")
    parser.add_argument("--latency", type=float, default=0.05,
                        help="seconds each API request waits in the emulator (default 0.05)")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS,
                        help=f"the parallel side (default {DEFAULT_JOBS}, the command's default)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side; medians are printed (default 1)")
    args = parser.parse_args()
    sides = (1, args.jobs)
    runs = [(side, n) for n in range(args.repeat) for side in sides]
    users = [u.open_id for u in generated_users(args.accounts * len(runs))]
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        work = Path(scratch)
        emulator, url = start_emulator(work, "--extra-users", str(len(users)), "--latency", str(args.latency))
        try:
            clip = make_clip(work, args.size)
            digest = sha256_file(clip)
            remote = EmulatorRemote(url)
            times: dict[int, list[float]] = {side: [] for side in sides}
            for number, (side, n) in enumerate(runs):
                folder = work / f"run-{number}-jobs-{side}"
                prepare_run(url, folder, clip, users[number * args.accounts:(number + 1) * args.accounts],
                            args.entries)
                times[side].append(post(url, folder, side))
            posts = remote.state()["posts"]
            limited = remote.rate_limited()
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)
    expected = args.entries * len(runs)
    complete = [p for p in posts if p["status"] == "PUBLISH_COMPLETE" and p["sha256"] == digest]
    one, many = statistics.median(times[1]), statistics.median(times[args.jobs])
    ratio = many / one
    print(f"{args.entries} entries of {args.size:,} bytes over {args.accounts} accounts, "
          f"{args.latency * 1000:.0f} ms per API request, median of {args.repeat} run(s), whole command")
    print(f"  --jobs 1   {one:7.2f} s")
    print(f"  --jobs {args.jobs:<3} {many:7.2f} s")
    print(f"  ratio --jobs {args.jobs} / --jobs 1: {ratio:.2f} (target <= {TARGET_RATIO} with 4 accounts)")
    print(f"  posts complete with the file's sha256: {len(complete)} of {expected} (each entry once: "
          f"{'yes' if len(posts) == expected else 'NO'})")
    print(f"  429 answers from the emulator: {limited}")
    return 0 if len(complete) == expected == len(posts) and limited == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
