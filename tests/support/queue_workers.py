"""Queueing posts in the store: :func:`queue_post` (what the composer does, for tests that need posts), and a process
that adds many at once for the store's concurrency tests: ``python -m tests.support.queue_workers STORE WORKER N``.

STORE is a SQLite file or a postgresql:// URL (migrated). The process prints ``ready`` and waits for one line on
stdin (so every process starts adding at the same moment), then adds N posts of its own, printing ``<id> <change>``
for each; it exits 1 on any error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tiktok.posting.manifest import validate_manifest
from tiktok.store.records import entry_key


def queue_post(store, entry: dict[str, Any], *, origin: str = "app"):
    """Add ``entry`` (a manifest entry, absolute video path) as the composer would: checked, keyed by its content,
    due at its post_at. Returns the Post; ValueError naming the problem when the entry is not valid."""
    checked = validate_manifest([entry], source="test", allow_loopback=True)
    if checked.problems:
        raise ValueError("; ".join(problem.message for problem in checked.problems))
    request = checked.entries[0]
    stored = request.to_entry()
    return store.add(stored, key=entry_key(stored), due_at=request.due_at, origin=origin)


def entry(worker: str, n: int) -> dict:
    return {"user_id": f"worker-{worker}", "video_path": f"/videos/clip-{n:03d}.mp4",
            "description": f"worker {worker} #{n}"}


def open_target(target: str):
    if target.startswith("postgresql://"):
        from tiktok.store.postgres import open_postgres
        return open_postgres(target)
    from tiktok.store.sqlite import open_sqlite
    return open_sqlite(Path(target))


def main(target: str, worker: str, count: str) -> int:
    store = open_target(target)
    try:
        print("ready", flush=True)
        sys.stdin.readline()
        for n in range(int(count)):
            post = queue_post(store, entry(worker, n))
            print(post.id, post.change, flush=True)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
