"""A full, read-only or symlinked token file never loses a rotated refresh token (issue 9).

The refresh command runs in-process here (``tiktok.cli.main`` with the environment cron would give), so a fault can
be injected into the disk layer; the HTTP side is the real emulator on loopback. Where the machine lets us (root,
mount allowed), the disk really is full or read-only: a 64 KiB tmpfs, a read-only bind mount.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.mounts import mount, read_only_bind, umount
from tiktok import atomic, cli
from tiktok.auth.tokens import TokenStore
from tiktok.emulator.config import EmulatorConfig, default_users
from tests.support.flows import link_account

ADA = default_users()[0].open_id
SECRET = "cs-" + os.urandom(12).hex()


@pytest.fixture
def emulator_config():
    return EmulatorConfig(client_secret=SECRET)


@pytest.fixture
def run(emulator, tmp_path, monkeypatch, capsys):
    """``python -m tiktok ARGS`` in-process against the emulator; returns (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    for name in ("TOKENS_KEY", "TOKENS_NEW_KEY", "TIKTOK_SCOPES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", emulator.config.client_key)
    monkeypatch.setenv("TIKTOK_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("TIKTOK_API_BASE", emulator.url)

    def run_cli(tokens: Path, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("TOKENS_FILE", str(tokens))
        capsys.readouterr()
        code = int(cli.main(list(args)))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run_cli


def expire_soon(store: TokenStore, open_id: str) -> None:
    with store.transaction() as accounts:
        accounts[open_id] = replace(accounts[open_id], expires_at=time.time() + 60)


def rotated(remote) -> int:
    return remote.state()["tokens"]["rotated"]


def temps_beside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def no_space(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def assert_refused_before_refresh(code: int, err: str, tokens: Path, before: bytes, rotations: int, remote,
                                  how: str, why: str) -> None:
    assert code == 2, f"[{how}] exit {code}: {err}"
    assert str(tokens) in err and why in err, f"[{how}] {err}"
    assert "Traceback" not in err and "no token was refreshed" in err, f"[{how}] {err}"
    assert rotated(remote) == rotations, f"[{how}] the refresh was sent although its result could not be stored"
    assert tokens.read_bytes() == before, f"[{how}] the token file changed"
    assert temps_beside(tokens) == [], f"[{how}] a reserved temp file was left behind"


def test_no_space_refuses_before_the_refresh_and_refreshes_once_space_is_back(run, emulator, oauth, remote,
                                                                              tokens_path, monkeypatch):
    store = TokenStore(tokens_path)
    link_account(emulator.url, store, oauth, ADA)
    expire_soon(store, ADA)
    before, rotations, old = tokens_path.read_bytes(), rotated(remote), store.get(ADA)

    with monkeypatch.context() as patch:
        patch.setattr(atomic.os, "posix_fallocate", no_space)
        code, _out, err = run(tokens_path, "refresh")
    assert_refused_before_refresh(code, err, tokens_path, before, rotations, remote, "injected", "No space left")

    code, out, err = run(tokens_path, "refresh")
    assert code == 0 and "DONE" in out, out + err
    assert rotated(remote) == rotations + 1
    assert store.get(ADA).refresh_token != old.refresh_token
    assert temps_beside(tokens_path) == []


def test_reservation_falls_back_to_writing_and_cleans_up_when_that_fails(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    target.write_text("old")
    monkeypatch.setattr(atomic.os, "posix_fallocate",
                        lambda *a: (_ for _ in ()).throw(OSError(errno.EOPNOTSUPP, "not supported")))
    with atomic.reserve(target, 5000) as reservation:  # fallocate unsupported: real bytes are written instead
        assert os.path.getsize(reservation.tmp) == 5000
        reservation.commit('{"new": 1}')
    assert target.read_text() == '{"new": 1}' and temps_beside(target) == []

    monkeypatch.setattr(atomic.os, "write", no_space)
    with pytest.raises(OSError) as raised:
        atomic.reserve(target, 5000)
    assert raised.value.errno == errno.ENOSPC
    assert target.read_text() == '{"new": 1}' and temps_beside(target) == []


def test_a_really_full_tmpfs_refuses_before_the_refresh(run, emulator, oauth, remote, tmp_path, monkeypatch):
    """A 64 KiB tmpfs filled to the last byte when mount is allowed; otherwise the same checks with ENOSPC injected
    (the assertion messages say which path ran)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    refused = mount("-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(disk))
    how = "tmpfs 64k" if refused is None else f"injected ENOSPC (mount not permitted: {refused})"
    try:
        tokens = disk / "user_tokens.json"
        store = TokenStore(tokens)
        link_account(emulator.url, store, oauth, ADA)
        expire_soon(store, ADA)
        before, rotations, old = tokens.read_bytes(), rotated(remote), store.get(ADA)
        filler = disk / "filler"
        with monkeypatch.context() as patch:
            if refused is None:
                fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
                try:
                    while True:
                        os.write(fd, b"\0" * 4096)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC, how
                finally:
                    os.close(fd)
            else:
                patch.setattr(atomic.os, "posix_fallocate", no_space)
            code, _out, err = run(tokens, "refresh")
        assert_refused_before_refresh(code, err, tokens, before, rotations, remote, how, "No space left")

        filler.unlink(missing_ok=True)
        code, out, err = run(tokens, "refresh")
        assert code == 0 and "DONE" in out, f"[{how}] {out}{err}"
        assert rotated(remote) == rotations + 1, how
        assert store.get(ADA).refresh_token != old.refresh_token, how
    finally:
        if refused is None:
            umount(disk)


def test_a_read_only_folder_refuses_before_the_refresh(run, emulator, oauth, remote, tmp_path, monkeypatch):
    """A read-only bind mount of the token folder when mount is allowed (root ignores chmod); otherwise EROFS
    injected where the temp file is made."""
    source, view = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    store = TokenStore(source / "user_tokens.json")
    link_account(emulator.url, store, oauth, ADA)
    expire_soon(store, ADA)
    refused = read_only_bind(source, view)
    how = "read-only bind mount" if refused is None else f"injected EROFS (mount not permitted: {refused})"
    tokens = (view if refused is None else source) / "user_tokens.json"
    try:
        before, rotations = tokens.read_bytes(), rotated(remote)
        with monkeypatch.context() as patch:
            if refused is not None:
                def read_only(*_a, **_k):
                    raise OSError(errno.EROFS, os.strerror(errno.EROFS))
                patch.setattr(atomic.tempfile, "mkstemp", read_only)
            code, _out, err = run(tokens, "refresh")
            assert_refused_before_refresh(code, err, tokens, before, rotations, remote, how, "Read-only file system")
            code, out, err = run(tokens, "accounts")  # reading still works
            assert code == 0 and ADA in out, f"[{how}] {out}{err}"
    finally:
        if refused is None:
            umount(view)


def test_a_symlinked_token_file_is_updated_through_the_link(run, emulator, oauth, remote, tmp_path):
    vault = tmp_path / "vault"
    vault.mkdir()
    target, link = vault / "tokens.json", tmp_path / "user_tokens.json"
    link.symlink_to(target)  # dangling until the first write: that write must create the target, not the link
    store = TokenStore(link)
    assert store.lock_path == TokenStore(target).lock_path == vault / "tokens.json.lock"
    link_account(emulator.url, store, oauth, ADA)
    assert link.is_symlink() and target.is_file() and not target.is_symlink()
    expire_soon(store, ADA)
    old = TokenStore(target).get(ADA)

    code, out, err = run(link, "refresh")
    assert code == 0 and "DONE" in out, out + err
    assert link.is_symlink() and os.readlink(link) == str(target)
    new = TokenStore(target).get(ADA)
    assert new.refresh_token != old.refresh_token and new.expires_at > old.expires_at
    assert not (tmp_path / "user_tokens.json.lock").exists()
    assert temps_beside(target) == [] and temps_beside(link) == []
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
