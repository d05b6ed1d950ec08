"""Upload benchmark: our chunked FILE_UPLOAD client against curl streaming the same chunk plan, in pairs.

    .venv/bin/python bench/upload.py [--pairs 15] [--sizes 30000000,300000001,1000000000]

For each size, a sparse, valid MP4 of exactly that many bytes is uploaded to the TikTok emulator (started in its
own process) by our client (``tiktok.posting.transfer.send_chunks``, in a fresh child process so its peak RSS is
its own) and by curl streaming each chunk from a file (``-T``, one process, ``--next`` per chunk, Expect disabled;
the chunk files are cut from the video once per size, as sparse as the video). The emulator answers HTTP/1.0 and
closes the connection after each answer, so both sides connect once per chunk. The two sides run
in pairs (bench/paired.py), one after the other, the order alternated pair to pair, each side with its own publish
from a real init call and each pair as its own creator (the emulator's daily cap allows ~15 posts each). Ours is
timed over its chunk PUTs; curl over its whole process, so a second ratio takes curl's start-up (measured alone)
out. The figure per size is the median of the per-pair ratios, with the middle half of them as the spread; a
warm-up pair runs first and is dropped.

Where the time goes, per side: each chunk request's set-up (ours: from the ``put`` call to the first body read;
curl: its ``time_pretransfer``) and the rest (body and answer), per chunk; CPU seconds (user + system) during the
transfer, for the client (ours from ``getrusage`` around the PUTs, curl's from GNU time) and for the emulator process
that receives it (from ``/proc/<pid>/stat`` around the same span).

Memory is compared two ways. "Peak RSS" is each process's whole high-water mark: ours carries the Python
interpreter, requests and the client modules before the first byte is sent, curl carries only libcurl.
"Transfer memory" counts what the upload itself adds, the same way on both sides: ours is the high-water mark after
the PUTs minus the high-water mark just before them (same process, after imports and init); curl's is its peak on
the real upload minus its peak on a transfer of nothing (the same binary's start-up footprint).

Targets (issue 12): ours at most 1.1 times curl at 300 MB and 1 GB (median per-pair ratio, curl's start-up
counted); transfer memory equal within 10 MiB. Exit status 1 when one is missed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)  # not bench/ itself: its queue.py must not hide the standard library's

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import requests  # noqa: E402

from bench.emulated import start_emulator  # noqa: E402
from bench.paired import Pairs, measure_pairs, verdict  # noqa: E402
from tiktok.api import ApiClient  # noqa: E402
from tiktok.auth.oauth import OAuthClient  # noqa: E402
from tiktok.auth.tokens import TokenStore  # noqa: E402
from tiktok.emulator.config import generated_users  # noqa: E402
from tiktok.posting.chunks import ChunkPlan, plan_chunks  # noqa: E402
from tiktok.posting.client import PostingClient, file_source_info  # noqa: E402

KEY, SECRET = "emulator-client-key", "emulator-client-secret"
TARGET_RATIO = 1.1  # ours / streaming curl, at TARGET_FROM bytes and above
TARGET_FROM = 300_000_000
TARGET_MEMORY_KIB = 10 * 1024  # transfer memory, ours minus curl's
BLOCK = 8 << 20  # bytes copied at a time when cutting chunk files


def link(url: str, tokens: Path, open_ids: list[str]) -> None:
    from tests.support.flows import link_account
    oauth = OAuthClient(requests.Session(), api_base=url, client_key=KEY, client_secret=SECRET)
    for open_id in open_ids:
        link_account(url, TokenStore(tokens), oauth, open_id, scopes=("user.info.basic", "video.publish"))


def init_upload(url: str, tokens: Path, size: int, open_id: str) -> tuple[str, ChunkPlan]:
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


def cpu_s(pid: int) -> float:
    """A process's CPU seconds so far (user + system), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class TimedSession(requests.Session):
    """A session that notes, for each request, when it was called, when its body was first read and when it
    returned: the request's set-up (everything before the first body byte) and its transfer (body and answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.stamps: list[list[float]] = []

    def request(self, *args, **kwargs):  # type: ignore[override]
        stamp = [time.perf_counter(), 0.0, 0.0]
        self.stamps.append(stamp)
        try:
            return super().request(*args, **kwargs)
        finally:
            stamp[2] = time.perf_counter()

    def body_read(self, _bytes: int) -> None:
        if self.stamps and not self.stamps[-1][1]:
            self.stamps[-1][1] = time.perf_counter()

    def setup_s(self) -> float:
        return sum(first_read - called for called, first_read, _ in self.stamps)


def ours(url: str, tokens: Path, video: Path, open_id: str, emulator_pid: int) -> dict:
    """Runs in a child process: init, then time our chunk PUTs; report wall time, set-up time, CPU, peak RSS and
    what the PUTs added."""
    from tiktok.posting.transfer import send_chunks, upload_session
    upload_url, plan = init_upload(url, tokens, video.stat().st_size, open_id)
    session = TimedSession()
    upload_session(session)
    before = peak_rss_kb()
    cpu, server_cpu = own_cpu_s(), cpu_s(emulator_pid)
    start = time.perf_counter()
    send_chunks(session, upload_url, video, plan, "video/mp4", on_progress=session.body_read)
    seconds = time.perf_counter() - start
    cpu, server_cpu = own_cpu_s() - cpu, cpu_s(emulator_pid) - server_cpu
    peak = peak_rss_kb()
    return {"seconds": seconds, "setup_s": session.setup_s(), "cpu_s": cpu, "server_cpu_s": server_cpu,
            "peak_rss_kb": peak, "transfer_kb": peak - before}


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


def cut_chunks(video: Path, plan: ChunkPlan, scratch: Path) -> list[Path]:
    """One file per chunk, as sparse as the video (zero blocks are skipped with a seek), for curl's ``-T``."""
    parts = []
    with open(video, "rb") as source:
        for chunk in plan.chunks():
            part = scratch / f"part{chunk.index}"
            source.seek(chunk.first_byte)
            with open(part, "wb") as out:
                remaining = chunk.length
                while remaining:
                    block = source.read(min(remaining, BLOCK))
                    if block.count(0) == len(block):
                        out.seek(len(block), os.SEEK_CUR)
                    else:
                        out.write(block)
                    remaining -= len(block)
                out.truncate(chunk.length)
            parts.append(part)
    return parts


def curl(url: str, tokens: Path, video: Path, parts: list[Path], open_id: str, emulator_pid: int) -> dict:
    """curl streaming each chunk file (``-T``), one process, ``--next`` per chunk.

    Wall time with process start included, set-up time (the sum of curl's ``time_pretransfer``: each transfer's
    start until just before its first byte goes out), CPU (GNU time's %U + %S), the emulator's CPU over the same
    span and curl's peak RSS in KiB (%M)."""
    upload_url, plan = init_upload(url, tokens, video.stat().st_size, open_id)
    per_transfer = ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_pretransfer}\\n"]  # --next resets these
    # -T streams the file from disk (--data-binary would read it all into memory first). It would append the file
    # name to a path ending in "/", so --request-target keeps the path and query as they are.
    target = upload_url[upload_url.index("/", len("http://")):]
    args = ["curl"]
    for chunk, part in zip(plan.chunks(), parts):
        if chunk.index:
            args.append("--next")
        args += per_transfer
        args += ["-T", str(part), "--request-target", target, "-H", "Content-Type: video/mp4", "-H", "Expect:",
                 "-H", f"Content-Range: {chunk.content_range(plan.video_size)}", upload_url]
    server_cpu = cpu_s(emulator_pid)
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", *args], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    server_cpu = cpu_s(emulator_pid) - server_cpu
    codes = [line.split()[0] for line in done.stdout.splitlines()]
    expected = ["206"] * (plan.total_chunk_count - 1) + ["201"]
    if done.returncode or codes != expected:  # never print args: the URL holds the upload token
        raise SystemExit(f"curl baseline failed: exit {done.returncode}, HTTP {codes}")
    peak_kb, user, system = done.stderr.strip().splitlines()[-1].split()
    setup = sum(float(line.split()[1]) for line in done.stdout.splitlines())
    return {"seconds": seconds, "setup_s": setup, "cpu_s": float(user) + float(system), "server_cpu_s": server_cpu,
            "peak_rss_kb": int(peak_kb)}


@dataclass
class Side:
    """What one side's runs reported, in the order they ran."""

    runs: list[dict] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(run[key] for run in self.runs)

    def most(self, key: str) -> int:
        return max(run[key] for run in self.runs)


def measure_size(url: str, tokens: Path, emulator_pid: int, work: Path, size: int, open_ids: list[str]
                 ) -> tuple[Pairs, Side, Side]:
    """A warm-up pair, then ``len(open_ids) - 1`` pairs at one size, pair k posting as ``open_ids[k]`` on both
    sides. The warm-up pays the first read of the sparse files (the kernel fills the page cache with zeros)."""
    video = make_video(work / f"video-{size}.mp4", size)
    parts = cut_chunks(video, plan_chunks(size), work)
    mine, theirs = Side(), Side()

    def our_side() -> float:
        open_id = open_ids[len(mine.runs)]
        child = subprocess.run([sys.executable, __file__, "--child", url, str(tokens), str(video), open_id,
                                str(emulator_pid)], check=True, capture_output=True, text=True)
        mine.runs.append(json.loads(child.stdout))
        return mine.runs[-1]["seconds"]

    def curl_side() -> float:
        theirs.runs.append(curl(url, tokens, video, parts, open_ids[len(theirs.runs)], emulator_pid))
        return theirs.runs[-1]["seconds"]

    try:
        pairs = measure_pairs(our_side, curl_side, len(open_ids) - 1, warmup=1)
        del mine.runs[0], theirs.runs[0]  # the warm-up pair's
        return pairs, mine, theirs
    finally:
        video.unlink()
        for part in parts:
            part.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="30000000,300000001,1000000000",
                        help="comma-separated file sizes in bytes (default 30 MB, 300 MB and a 1 GB sparse file)")
    parser.add_argument("--pairs", type=int, default=15,
                        help="pairs (ours, curl) per size, after a warm-up pair (default 15)")
    parser.add_argument("--child", nargs=5, metavar=("URL", "TOKENS", "VIDEO", "OPEN_ID", "EMULATOR_PID"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, tokens, video, open_id, pid = args.child
        print(json.dumps(ours(url, Path(tokens), Path(video), open_id, int(pid))))
        return 0
    if shutil.which("curl") is None or not Path("/usr/bin/time").exists():
        print("curl and GNU time are needed for the baseline (apt-get install curl time)", file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",")]
    per_size = args.pairs + 1  # and a warm-up pair
    creators = [user.open_id for user in generated_users(len(sizes) * per_size)]  # one per pair: 2 posts each
    work = Path(tempfile.mkdtemp(prefix="tiktok-bench-"))
    emulator, url = start_emulator(work, "--extra-users", str(len(creators)))
    try:
        tokens = work / "user_tokens.json"
        link(url, tokens, creators)
        idle_kb = curl_idle_rss_kb()
        rows = []
        for n, size in enumerate(sizes):
            rows.append((size, *measure_size(url, tokens, emulator.pid, work, size,
                                             creators[n * per_size:(n + 1) * per_size])))
        startup = curl_startup_s()
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    return report(rows, startup, idle_kb)


def report(rows: list[tuple[int, Pairs, Side, Side]], startup: float, idle_kb: int) -> int:
    print(f"curl start-up and exit alone: {startup * 1000:.1f} ms (taken out for the PUT-only ratio); "
          f"its peak RSS on a transfer of nothing: {idle_kb / 1024:.1f} MiB")
    print(f"{'bytes':>13} {'chunks':>6} {'ours s':>7} {'curl s':>7}  {'ours/curl, median of per-pair ratios':<44}"
          f" {'PUT-only':>8}")
    ok = True
    for size, pairs, mine, theirs in rows:
        put_only = statistics.median(a / max(b - startup, 1e-9) for a, b in zip(pairs.a, pairs.b))
        print(f"{size:>13,} {plan_chunks(size).total_chunk_count:>6} {pairs.median_a:>7.2f} {pairs.median_b:>7.2f}"
              f"  {pairs.describe():<44} {put_only:>8.2f}")
        if size >= TARGET_FROM:
            ok &= pairs.ratio <= TARGET_RATIO
    print("\nwhere the time goes (medians): per chunk, the request's set-up (before its first body byte) and the "
          "rest (body and answer); CPU seconds (user + system) of the client and of the emulator during the transfer")
    print(f"{'bytes':>13} {'set-up ms ours/curl':>20} {'rest ms ours/curl':>18} {'client CPU s':>13} "
          f"{'emulator CPU s':>15}")
    for size, pairs, mine, theirs in rows:
        chunks = plan_chunks(size).total_chunk_count
        setup, curl_setup = mine.median("setup_s"), theirs.median("setup_s")
        rest, curl_rest = pairs.median_a - setup, pairs.median_b - startup - curl_setup
        print(f"{size:>13,} {setup / chunks * 1000:>9.2f} / {curl_setup / chunks * 1000:<8.2f} "
              f"{rest / chunks * 1000:>8.2f} / {curl_rest / chunks * 1000:<7.2f} "
              f"{mine.median('cpu_s'):>5.2f} / {theirs.median('cpu_s'):<5.2f} "
              f"{mine.median('server_cpu_s'):>6.2f} / {theirs.median('server_cpu_s'):<6.2f}")
    print(f"\n{'bytes':>13} {'peak RSS ours/curl':>19} {'transfer memory ours/curl':>26} {'diff':>8}")
    for size, pairs, mine, theirs in rows:
        added, curl_added = mine.most("transfer_kb"), theirs.most("peak_rss_kb") - idle_kb
        print(f"{size:>13,} {mine.most('peak_rss_kb') / 1024:>8.1f} / {theirs.most('peak_rss_kb') / 1024:>5.1f} MiB"
              f" {added / 1024:>13.1f} / {curl_added / 1024:>5.1f} MiB {(added - curl_added) / 1024:>+7.1f}M")
        ok &= added - curl_added <= TARGET_MEMORY_KIB
    small, large = rows[0], rows[-1]
    print(f"our peak RSS difference, {large[0]:,} vs {small[0]:,} bytes: "
          f"{(large[2].most('peak_rss_kb') - small[2].most('peak_rss_kb')) / 1024:+.1f} MiB")
    judged = [pairs.ratio for size, pairs, *_ in rows if size >= TARGET_FROM]
    worst = f"worst {max(judged):.3f}: {verdict(max(judged), TARGET_RATIO)}" if judged else "no size that large"
    print(f"\ntargets: ours/curl at most {TARGET_RATIO:g} at {TARGET_FROM:,} bytes and above ({worst}); transfer "
          f"memory equal within {TARGET_MEMORY_KIB // 1024} MiB; all: {'met' if ok else 'MISSED'}")
    print("ratio: ours (chunk PUTs only, timed inside our process) / curl (whole process); PUT-only: the same with "
          "curl's own start-up taken out. Same emulator, same chunk plan.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
