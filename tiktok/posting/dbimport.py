"""``python -m tiktok db import``: move the JSON files into PostgreSQL, under their locks, safe to run twice.

- Accounts: read under the token file's lock. An account the database lacks is added; one it has is replaced only
  when the file's copy was refreshed later (after the first import the database's copy is the live one: TikTok
  rotates the refresh token at every refresh, so an older copy must never win).
- Entries: read under the manifest's lock and added in the file's order, relative video paths made absolute (every
  worker reads the file at that path); an entry already in the queue (same key) is left alone.
- Records: read under the results file's lock; added when missing, replaced when the file's is newer. A results
  file with a live claim (a run posting right now) stops the import before anything is written: wait for that run.

Nothing is deleted from the files; with DATABASE_URL set the commands no longer read them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from tiktok.atomic import held_lock
from tiktok.auth.tokens import TokenStore
from tiktok.errors import FileProblem
from tiktok.posting.manifest import load_manifest
from tiktok.posting.queue import LOCK_TIMEOUT_S, QueueError
from tiktok.posting.results import ResultsFileError, ResultsStore, claim_is_live, entry_key, results_path_for


@dataclass
class ImportCounts:
    added: int = 0
    updated: int = 0
    kept: int = 0

    def __str__(self) -> str:
        return f"{self.added} added, {self.updated} updated, {self.kept} already there"


def import_accounts(source: TokenStore, target) -> ImportCounts:
    counts = ImportCounts()
    with source.transaction() as accounts:  # the file's lock: no refresh writes it meanwhile
        for open_id, account in sorted(accounts.items()):
            with target.locked(open_id) as stored:
                current = stored.get(open_id)
                if current is None:
                    stored[open_id] = account
                    counts.added += 1
                elif account.refreshed_at > current.refreshed_at:
                    stored[open_id] = account
                    counts.updated += 1
                else:
                    counts.kept += 1
    return counts


def import_entries(manifest: Path, queue, *, allow_loopback: bool) -> tuple[ImportCounts, list[str]]:
    """The manifest's valid entries into ``queue`` (a PgQueue); returns the counts and the file's problems."""
    counts = ImportCounts()
    lock = manifest.with_name(manifest.name + ".lock")
    with held_lock(lock, LOCK_TIMEOUT_S, lambda reason: QueueError(manifest, reason)):
        result = load_manifest(manifest, allow_loopback=allow_loopback)
        present = {entry_key(e) for e in queue.read().entries}
        for entry in result.entries:
            absolute = replace(entry, video_path=entry.video_path.resolve()) if entry.video_path else entry
            if entry_key(absolute) in present:
                counts.kept += 1
                continue
            queue.add(absolute.to_entry())
            present.add(entry_key(absolute))
            counts.added += 1
    return counts, [problem.message for problem in result.problems]


def import_records(manifest: Path, source: ResultsStore, target, *, now: float,
                   allow_loopback: bool) -> ImportCounts:
    """The results file's records into ``target`` (a PgResultsStore). Keys are recomputed for absolute paths."""
    counts = ImportCounts()
    entries = load_manifest(manifest, allow_loopback=allow_loopback).entries
    moved = {entry_key(e): entry_key(replace(e, video_path=e.video_path.resolve()) if e.video_path else e)
             for e in entries}
    with source.locked() as (records, claims):  # the results file's lock, held while copying
        live = [key for key, claim in claims.items()
                if claim_is_live(claim, host=source.host, now=now, alive=source.alive, started=source.started)]
        if live:
            raise ResultsFileError(source.path, f"has {len(live)} entr{'y' if len(live) == 1 else 'ies'} being "
                                                "posted by a run right now; let it finish, then import again "
                                                "(nothing was imported)")
        existing = target.load()
        for key, record in sorted(records.items()):
            new_key = moved.get(key, key)
            record = replace(record, key=new_key)
            current = existing.get(new_key)
            if current is None or record.updated_at > current.updated_at:
                target.put(record)
                counts.added += current is None
                counts.updated += current is not None
            else:
                counts.kept += 1
    return counts


def import_files(settings, manifest: Path, say=print) -> int:
    """The command: accounts, entries, records, one line each; the exit status."""
    import time

    from tiktok.auth.pg_store import PgTokenStore
    from tiktok.db.connection import describe
    from tiktok.exitcodes import BAD_INPUT, DONE, SKIPPED, exit_status, outcome_line
    from tiktok.posting.pg_queue import PgQueue

    where = describe(settings.database_url)
    outcomes = []
    tokens = TokenStore(settings.tokens_path, key=settings.tokens_key)
    counts = import_accounts(tokens, PgTokenStore(settings.database_url, key=settings.tokens_key))
    say(outcome_line(DONE, f"{settings.tokens_path} -> {where}", f"accounts: {counts}"))
    outcomes.append(DONE)
    if not manifest.exists():
        say(outcome_line(SKIPPED, str(manifest), "no manifest to import"))
        return exit_status(outcomes)
    queue = PgQueue(settings.database_url, allow_loopback=settings.emulated, key=settings.tokens_key)
    try:
        entries, problems = import_entries(manifest, queue, allow_loopback=settings.emulated)
        say(outcome_line(DONE, f"{manifest} -> {where}", f"entries: {entries}"))
        for problem in problems:
            say(outcome_line(BAD_INPUT, str(manifest), f"{problem} (not imported)"))
            outcomes.append(BAD_INPUT)
        results = ResultsStore(results_path_for(manifest), key=settings.tokens_key)
        if results.path.exists():
            records = import_records(manifest, results, queue.results(), now=time.time(),
                                     allow_loopback=settings.emulated)
            say(outcome_line(DONE, f"{results.path} -> {where}", f"records: {records}"))
    except FileProblem as exc:
        say(outcome_line(BAD_INPUT, str(manifest), str(exc)))
        outcomes.append(BAD_INPUT)
    return exit_status(outcomes)
