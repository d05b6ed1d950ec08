"""Upload benchmark: our chunked FILE_UPLOAD client against curl sending the same chunk plan.

    .venv/bin/python bench/upload.py [--repeat 3] [--sizes 30000000,300000001]

In one run, for each size: a sparse, valid MP4 of exactly that many bytes is uploaded to the TikTok emulator
(started in its own process) by our client (``tiktok.posting.transfer.send_chunks``, in a fresh child process so
its peak RSS is its own) and by curl streaming each chunk from a file (``-T``, one process, one connection,
``--next`` per chunk, Expect disabled). Each side gets its own publish from a real init call. Ours is timed over
its chunk PUTs; curl over its whole process, so a second ratio takes curl's start-up (measured alone) out. Prints
median wall times, both ratios, both sides' peak RSS per size, and our RSS difference between the largest and
smallest size. The default sizes include a 1 GB sparse file.

Memory is compared two ways. "Peak RSS" is each process's whole high-water mark: ours carries the Python
interpreter, requests and the client modules (about 20 MiB before the first byte is sent), curl carries only libcurl.
"Transfer memory" counts what the upload itself adds, the same way on both sides: ours is the high-water mark after
the PUTs minus the high-water mark just before them (same process, after imports and init); curl's is its peak on
the real upload minus its peak on a transfer of nothing (the same binary's start-up footprint). That is the number
that says whether memory grows with the file, and the one the two sides can match.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/ itself: its queue.py must not hide the standard library's

from bench.emulated import start_emulator  # noqa: E402

import requests  # noqa: E402

from tiktok.api import ApiClient  # noqa: E402
from tiktok.posting.chunks import plan_chunks  # noqa: E402
from tiktok.auth.oauth import OAuthClient  # noqa: E402
from tiktok.posting.client import PostingClient, file_source_info  # noqa: E402
from tiktok.auth.tokens import TokenStore  # noqa: E402

# The emulator's seeded users. Each size posts as the next one, so no creator passes the ~15 direct posts a day
# the emulator allows (3 sizes x 3 repeats x 2 sides would be 18 for one creator).
USERS = ("723f24d7-e717-40f8-a2b6-cb8464cd23b4", "0b6f3c52-9d84-4e2a-b1c7-5f0e3a9d2c68",
         "e51a7d90-2c4b-4b6f-9e03-8a1d5c7f2b49")
KEY, SECRET = "emulator-client-key", "emulator-client-secret"


def link(url: str, tokens: Path) -> None:
    from tests.support.flows import link_account
    oauth = OAuthClient(requests.Session(), api_base=url, client_key=KEY, client_secret=SECRET)
    for open_id in USERS:
        link_account(url, TokenStore(tokens), oauth, open_id, scopes=("user.info.basic", "video.publish"))


def init_upload(url: str, tokens: Path, size: int, open_id: str) -> tuple[str, object]:
    from tiktok.auth.access import refresh_account
    # Init allows 6 calls a minute per access token; a fresh token per run keeps repeated runs inside it.
    oauth = OAuthClient(requests.Session(), api_base=url, client_key=KEY, client_secret=SECRET)
    token = refresh_account(TokenStore(tokens), oauth, open_id, force=True).access_token
    plan = plan_chunks(size)
    posting = PostingClient(ApiClient(requests.Session(), api_base=url))
    post_info = {"privacy_level": "SELF_ONLY", "disable_comment": True, "disable_duet": True,
                 "disable_stitch": True, "brand_content_toggle": False, "brand_organic_toggle": False}
    return posting.init_video(token, file_source_info(plan), post_info).upload_url, plan


def make_video(path: Path, size: int) -> Path:
    from tests.support.posting import padded_video
    return padded_video(path, size)


def ours(url: str, tokens: Path, video: Path, open_id: str) -> dict:
    """Runs in a child process: init, then time our chunk PUTs; report wall time, peak RSS and what the PUTs added."""
    from tiktok.posting.transfer import send_chunks, upload_session
    upload_url, plan = init_upload(url, tokens, video.stat().st_size, open_id)
    session = upload_session()
    before = peak_rss_kb()
    start = time.perf_counter()
    send_chunks(session, upload_url, video, plan, "video/mp4")
    seconds = time.perf_counter() - start
    peak = peak_rss_kb()
    return {"seconds": seconds, "peak_rss_kb": peak, "transfer_kb": peak - before}


def peak_rss_kb() -> int:
    """This process's own peak RSS. Not ru_maxrss: Linux carries the parent's high-water mark across exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def curl_startup_s(repeat: int = 7) -> float:
    """The best wall time of a curl process that transfers nothing: its start-up and exit, to set beside ours."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(["curl", "-sS", "-o", "/dev/null", "file:///dev/null"], check=True)
        best = min(best, time.perf_counter() - start)
    return best


def curl_idle_rss_kb() -> int:
    """curl's peak RSS on a transfer of nothing: the footprint its start-up alone brings (GNU time's %M)."""
    done = subprocess.run(["/usr/bin/time", "-f", "%M", "curl", "-sS", "-o", "/dev/null", "file:///dev/null"],
                          capture_output=True, text=True, check=True)
    return int(done.stderr.strip().splitlines()[-1])


def curl(url: str, tokens: Path, video: Path, scratch: Path, open_id: str) -> tuple[float, int]:
    """curl streaming each chunk from a file (``-T``), one process and connection, ``--next`` per chunk.

    Returns the wall time, process start included, and curl's peak RSS in KiB (GNU time's %M)."""
    upload_url, plan = init_upload(url, tokens, video.stat().st_size, open_id)
    per_transfer = ["-sS", "-o", "/dev/null", "-w", "%{http_code}\\n"]  # --next resets these
    args = ["curl"]
    with open(video, "rb") as source:
        for chunk in plan.chunks():  # chunk files are made before the clock starts
            part = scratch / f"part{chunk.index}"
            source.seek(chunk.first_byte)
            with open(part, "wb") as out:
                remaining = chunk.length
                while remaining:
                    block = source.read(min(remaining, 8 << 20))
                    out.write(block)
                    remaining -= len(block)
            if chunk.index:
                args.append("--next")
            args += per_transfer
            # -T streams the file from disk (--data-binary would read it all into memory first). It would append
            # the file name to a path ending in "/", so --request-target keeps the path and query as they are.
            target = upload_url[upload_url.index("/", len("http://")):]
            args += ["-T", str(part), "--request-target", target, "-H", "Content-Type: video/mp4", "-H", "Expect:",
                     "-H", f"Content-Range: {chunk.content_range(plan.video_size)}", upload_url]
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak_kb = int(done.stderr.strip().splitlines()[-1]) if done.stderr.strip() else 0
    codes = done.stdout.split()
    expected = ["206"] * (plan.total_chunk_count - 1) + ["201"]
    if done.returncode or codes != expected:  # never print args: the URL holds the upload token
        raise SystemExit(f"curl baseline failed: exit {done.returncode}, HTTP {codes}")
    for part in scratch.glob("part*"):
        part.unlink()
    return seconds, peak_kb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="30000000,300000001,1000000000",
                        help="comma-separated file sizes in bytes (at most 3 with the default --repeat)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side and size; medians are printed")
    parser.add_argument("--child", nargs=4, metavar=("URL", "TOKENS", "VIDEO", "OPEN_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(ours(args.child[0], Path(args.child[1]), Path(args.child[2]), args.child[3])))
        return 0
    if shutil.which("curl") is None or not Path("/usr/bin/time").exists():
        print("curl and GNU time are needed for the baseline (apt-get install curl time)", file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="tiktok-bench-"))
    emulator, url = start_emulator(work)
    try:
        tokens = work / "user_tokens.json"
        link(url, tokens)
        rows = []
        idle_kb = curl_idle_rss_kb()
        for position, size in enumerate(sizes):
            open_id = USERS[position % len(USERS)]
            video = make_video(work / f"video-{size}.mp4", size)
            mine, theirs, rss, curl_rss, added = [], [], [], [], []
            for _ in range(args.repeat):
                child = subprocess.run([sys.executable, __file__, "--child", url, str(tokens), str(video), open_id],
                                       check=True, capture_output=True, text=True)
                result = json.loads(child.stdout)
                mine.append(result["seconds"])
                rss.append(result["peak_rss_kb"])
                added.append(result["transfer_kb"])
                seconds, peak_kb = curl(url, tokens, video, work, open_id)
                theirs.append(seconds)
                curl_rss.append(peak_kb)
            rows.append((size, statistics.median(mine), statistics.median(theirs), max(rss), max(curl_rss),
                         max(added), max(curl_rss) - idle_kb))
            video.unlink()
        startup = curl_startup_s()
        print(f"curl start-up and exit alone: {startup * 1000:.1f} ms (subtracted for the PUT-only ratio)")
        print(f"curl's peak RSS on a transfer of nothing: {idle_kb / 1024:.1f} MiB")
        print(f"{'bytes':>13} {'chunks':>6} {'ours s':>7} {'curl s':>7} {'ratio':>6} {'PUT-only':>8} "
              f"{'peak RSS ours/curl':>19} {'transfer memory ours/curl':>26} {'diff':>8}")
        for size, mine, theirs, rss, theirs_rss, added, curl_added in rows:
            print(f"{size:>13,} {plan_chunks(size).total_chunk_count:>6} {mine:>7.2f} {theirs:>7.2f} "
                  f"{mine / theirs:>6.2f} {mine / max(theirs - startup, 1e-9):>8.2f} "
                  f"{rss / 1024:>8.1f} / {theirs_rss / 1024:>5.1f} MiB {added / 1024:>13.1f} / {curl_added / 1024:>5.1f} MiB"
                  f" {(added - curl_added) / 1024:>+7.1f}M")
        (small, *_, large) = rows if len(rows) > 1 else rows * 2
        print(f"our peak RSS difference, {large[0]:,} vs {small[0]:,} bytes: {(large[3] - small[3]) / 1024:+.1f} MiB")
        print("targets: ratio <= 1.1 at 300 MB and 1 GB; transfer memory equal within 10 MiB (diff column).")
        print("ratio: ours (chunk PUTs only, timed inside our process) / curl (whole process); PUT-only: the same with "
              "curl's own start-up taken out. Medians of --repeat runs; same emulator, same chunk plan.")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
