"""A worker process for the manifest queue's concurrency test: ``python -m tests.support.queue_workers``.

Arguments: MANIFEST WORKER N. Prints ``ready`` and waits for one line on stdin (so every worker starts adding at
the same moment), then adds N entries of its own through ManifestQueue, printing each key; exits 1 on any error.
"""

from __future__ import annotations

import sys

from tiktok.posting.queue import ManifestQueue


def entry(worker: str, n: int) -> dict:
    return {"user_id": f"worker-{worker}", "video_path": f"clip-{n:03d}.mp4", "description": f"worker {worker} #{n}"}


def main(manifest: str, worker: str, count: str) -> int:
    queue = ManifestQueue(manifest)
    print("ready", flush=True)
    sys.stdin.readline()
    for n in range(int(count)):
        print(queue.add(entry(worker, n)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
