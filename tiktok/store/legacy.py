"""Earlier versions' results files (``<manifest>.results.json``, format 1), read once to move their records into the
store. The file is only read, never changed: it stays where it is as a backup.

The format: ``{"version": 1, "records": {key: record}, "claims": {...}, "encryption": "fernet:v1"?}``, each record
keyed by the entry key of its day (the manifest entry with ``video_path`` joined to the manifest's absolute,
unresolved folder). A record's ``upload_url`` may be sealed with TOKENS_KEY, bound to that key.
"""

from __future__ import annotations

import json
from pathlib import Path

from tiktok.errors import ResultsFileError
from tiktok.sealing import ENCRYPTION, cipher_for, is_sealed
from tiktok.store.records import PostRecord

FORMAT_VERSION = 1


def results_path_for(manifest: Path) -> Path:
    """``videos_to_upload.json`` -> ``videos_to_upload.results.json`` (where earlier versions kept records)."""
    return manifest.with_name(manifest.stem + ".results.json")


def read_results(path: Path, *, key: str | None) -> dict[str, PostRecord]:
    """The records of an earlier results file, upload URLs opened; {} when there is none or it holds nothing.
    ResultsFileError naming the file when it cannot be read (nothing is imported then)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsFileError(path, f"cannot be read ({type(exc).__name__}); nothing was imported") from None
    try:
        data = json.loads(text) if text.strip() else {}
        if data == {}:
            return {}
        records = data["records"]
        if data.get("version") != FORMAT_VERSION or not isinstance(records, dict):
            raise ValueError("not format 1")
    except (ValueError, KeyError, TypeError):
        raise ResultsFileError(path, "is not a results file an earlier version wrote; nothing was imported (it was "
                                     "left as it is)") from None
    if data.get("encryption", ENCRYPTION) != ENCRYPTION:
        raise ResultsFileError(path, f"is encrypted with {data['encryption']!r}; this tool reads {ENCRYPTION!r}")
    cipher = cipher_for(key)
    out: dict[str, PostRecord] = {}
    for record_key, value in records.items():
        try:
            value = {**value, "key": record_key}
            url = value.get("upload_url")
            if is_sealed(url):
                if cipher is None:
                    raise ResultsFileError(path, "holds encrypted upload URLs but TOKENS_KEY is not set: set it to the "
                                                 "key the file was written with; nothing was imported")
                value["upload_url"] = cipher.open(record_key, "upload_url", url, owner="record",
                                                  fail=lambda why: ResultsFileError(path, why))
            out[record_key] = PostRecord.from_json(value)
        except (TypeError, ValueError, AttributeError):
            raise ResultsFileError(path, f"record {record_key} is not one this tool wrote; nothing was imported") \
                from None
    return out
