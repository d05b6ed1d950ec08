"""A composer and a media cleanup in two processes at once, for tests/test_media_library.py.

``python -m tests.support.media_race compose FOLDER NOW`` adds one post per upload in FOLDER (in a shuffled order),
each right after checking that its file is there (what the composer's form does), and prints one JSON line per
upload: ``{"name", "added"}`` (false: the store refused it as removed). ``... clean FOLDER NOW`` runs the cleanup
at NOW until it finds nothing left to remove, and prints the names it removed. The store is STORE_FILE or
DATABASE_URL from the environment, as for the commands. Both wait for the file GO to appear before they start, so
they run at the same moment whatever their start-up took.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from tiktok.config import load_settings
from tiktok.errors import ChangeRefused
from tiktok.media import library
from tiktok.store.base import open_store
from tiktok.store.records import entry_key

ADA = "race-open-id"


def compose(store, folder: Path) -> None:
    names = sorted(path.name for path in folder.iterdir() if library.is_upload_name(path.name))
    random.shuffle(names)
    for name in names:
        path = folder / name
        if not path.is_file():
            print(json.dumps({"name": name, "added": False, "seen": False}), flush=True)
            continue
        entry = {"user_id": ADA, "video_path": str(path), "privacy": "SELF_ONLY", "post_at": "2031-01-01T09:00:00Z"}
        try:
            store.add(entry, key=entry_key(entry), due_at=1_925_000_000.0)
            added = True
        except ChangeRefused:
            added = False
        print(json.dumps({"name": name, "added": added, "seen": True}), flush=True)


def clean(store, folder: Path, now: float) -> None:
    keep = load_settings({}).media.keep_unused_s
    while True:
        removed = library.clean(store, folder, now=now, keep_s=keep).removed
        for media in removed:
            print(json.dumps({"removed": media.name}), flush=True)
        if not removed and not store.unused_media(now - keep):
            return


def main(role: str, folder: str, now: str, go: str) -> None:
    store = open_store(load_settings(), clock=lambda: float(now))
    store.media_totals()  # connected and migrated before the start
    print(json.dumps({"ready": role}), flush=True)
    deadline = time.monotonic() + 60
    while not Path(go).exists():
        if time.monotonic() > deadline:
            raise SystemExit("no start signal")
        time.sleep(0.001)
    try:
        (compose if role == "compose" else lambda s, f: clean(s, f, float(now)))(store, Path(folder))
    finally:
        store.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
