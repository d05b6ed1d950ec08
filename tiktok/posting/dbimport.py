"""``python -m tiktok db import``: move the local files into PostgreSQL, under their locks, safe to run twice.

- Accounts: read under the token file's lock. An account the database lacks is added; one it has is replaced only
  when the file's copy was refreshed later (after the first import the database's copy is the live one: TikTok
  rotates the refresh token at every refresh, so an older copy must never win).
- Posts of the embedded store (``tiktok.db``): each post the database lacks (by its key) is copied with its entry,
  record and state; one it has is left alone. They get the database's own post numbers. The local file of a post
  a worker may still send (not started, failed, or under way) goes into the media store first, and the copy names it
  by ``video_media``; its key stays the same, so the record and claims still match. A file that cannot be read is
  said, and that post keeps its path.
- A manifest (``--manifest``, which must exist, or MANIFEST_FILE when there is one): imported as every run imports
  it (:mod:`tiktok.posting.importer`), its earlier results file included, read in full even when unchanged, and its
  local files put into the media store (MEDIA_STORE: a bucket, or the folder MEDIA_DIR), so that a worker on any
  machine can post them. The manifest file itself is never rewritten.

The database's post store is opened first: a database not migrated yet stops the command before anything is written.
Nothing is deleted from the files; with DATABASE_URL set the commands no longer read them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from tiktok.auth.tokens import TokenStore
from tiktok.errors import FileProblem, StoreError
from tiktok.media.store import MediaStore, MediaStoreError, import_file
from tiktok.posting.importer import in_media
from tiktok.store.model import ENDED
from tiktok.store.records import DELIVERED


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


def import_posts(source, target, media: MediaStore | None = None, say=print) -> ImportCounts:
    """Every post of ``source`` (the embedded store) into ``target`` unless it holds that key already; the local
    file of each post that may still be sent goes into ``media`` first (see the module docstring)."""
    counts = ImportCounts()
    for post in source.every_post():
        path = (post.entry or {}).get("video_path")
        sent = post.state in DELIVERED or post.state in ENDED
        if media is not None and path and not sent and target.find(post.key) is None:
            try:
                post = replace(post, entry=in_media(post.entry, import_file(media, path)))
            except FileProblem as exc:
                say(f"warning: {post.label}: {exc}; copied with its local path, which only this machine can read")
        if target.adopt(post, attempts=source.attempts(post.id)):
            counts.added += 1
        else:
            counts.kept += 1
    return counts


def import_files(settings, manifest: Path | None = None, say=print) -> int:
    """The command: accounts, the embedded store's posts, the manifest (``manifest``, which must exist, or
    MANIFEST_FILE when it exists), one line each; the exit status. The database's post store is opened first, so a
    database not migrated yet stops the command before anything is written."""
    from tiktok.auth.pg_store import PgTokenStore
    from tiktok.db.connection import describe
    from tiktok.exitcodes import BAD_INPUT, DONE, SKIPPED, TRY_LATER, exit_status, outcome_line
    from tiktok.posting.importer import media_store_for
    from tiktok.store.base import open_store

    where = describe(settings.database_url)
    target = open_store(settings)
    media = media_store_for(settings)
    try:
        outcomes = [DONE]
        if settings.tokens_path.exists():
            counts = import_accounts(TokenStore(settings.tokens_path, key=settings.tokens_key),
                                     PgTokenStore(settings.database_url, key=settings.tokens_key))
            say(outcome_line(DONE, f"{settings.tokens_path} -> {where}", f"accounts: {counts}"))
        else:
            say(outcome_line(SKIPPED, str(settings.tokens_path), "no token file to import"))
        if settings.store_path.exists():
            counts = _local_posts(settings, target, media(), say)
            say(outcome_line(DONE, f"{settings.store_path} -> {where}", f"posts: {counts}"))
        path = manifest if manifest is not None else settings.manifest_path
        if manifest is None and not path.exists():
            say(outcome_line(SKIPPED, str(path), "no manifest to import"))
        else:
            outcomes += _manifest(path, settings, target, where, media, say)
    except StoreError as exc:
        say(outcome_line(TRY_LATER if exc.transient else BAD_INPUT, where, str(exc)))
        outcomes = [TRY_LATER if exc.transient else BAD_INPUT]
    except MediaStoreError as exc:  # stopped before the post it was for was written
        say(outcome_line(TRY_LATER if exc.transient else BAD_INPUT, exc.where, str(exc)))
        outcomes = [TRY_LATER if exc.transient else BAD_INPUT]
    finally:
        target.close()
    return exit_status(outcomes)


def _local_posts(settings, target, media: MediaStore, say) -> ImportCounts:
    from tiktok.store.sqlite import open_sqlite

    local = open_sqlite(settings.store_path, key=settings.tokens_key)
    try:
        return import_posts(local, target, media, say)
    finally:
        local.close()


def _manifest(path: Path, settings, target, where: str, media, say) -> list[str]:
    """Import one manifest (its earlier results file included, its files into the media store); the outcomes of
    its lines."""
    from tiktok.exitcodes import BAD_INPUT, DONE, outcome_line
    from tiktok.posting.importer import import_manifest
    from tiktok.posting.runner import import_lines

    try:
        imported = import_manifest(target, path, allow_loopback=settings.emulated, tokens_key=settings.tokens_key,
                                   media=media, again=True, verified=settings.media.verified_prefixes)
    except FileProblem as exc:
        say(outcome_line(BAD_INPUT, str(path), str(exc)))
        return [BAD_INPUT]
    result = imported.result
    say(outcome_line(DONE, f"{path} -> {where}", "already imported, unchanged" if result.unchanged else
                     f"entries: {len(result.added)} added, {result.kept} already there, {len(result.withdrawn)} "
                     f"withdrawn, {result.migrated} record(s) from its results file"))
    if imported.media_put or imported.media_moved:
        say(outcome_line(DONE, f"{path} -> {media().where}", f"media: {imported.media_put} file(s) put in, "
                         f"{imported.media_moved} earlier post(s) moved to them"))
    outcomes = [DONE]
    for line in import_lines(imported):
        if line.startswith("error: "):
            say(outcome_line(BAD_INPUT, str(path), f"{line[len('error: '):]} (not imported)"))
            outcomes.append(BAD_INPUT)
    return outcomes
