"""A throwaway PostgreSQL server for the tests that need one: Debian's server binaries, a new cluster made with
``initdb`` in a temporary folder, on a free loopback port, stopped and removed at the end.

``initdb`` and ``pg_ctl`` refuse to run as root, so as root the cluster is made and run as ``nobody`` (in a folder
that user owns). When no server can be started, the fixture FAILS with the reason: these tests are part of the
suite, and a machine without Debian's ``postgresql`` package must install it (``.ci/run`` and ``scripts/test.sh``
do), never skip them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 60


@dataclass
class PostgresServer:
    port: int
    folder: Path

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database on this server; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database :meth:`new_database` made, ending the sessions still on it (an app a test served keeps
        its engine's connections): the server's connection slots are freed for the tests after it."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_binaries() -> Path:
    """The folder of Debian's PostgreSQL server programs; fails the test run with what to install when missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL server programs not found (/usr/lib/postgresql/*/bin/initdb): install Debian's "
                    "postgresql package (apt-get install -y postgresql); scripts/test.sh does this", pytrace=False)
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    if owner is None:
        return command
    return ["su", owner, "-s", "/bin/sh", "-c", " ".join(f"'{part}'" for part in command)]


def start_command(binaries: Path, folder: Path, port: int, *, durable: bool = False) -> list[str]:
    """pg_ctl start for the cluster in ``folder`` on loopback ``port``, waiting until it takes connections; the
    tests' clusters run with fsync off, a ``durable`` one (bench/scale.py) with PostgreSQL's own defaults."""
    fast = "" if durable else " -c fsync=off"
    return [str(binaries / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "server.log"), "-w", "-t",
            str(START_TIMEOUT_S), "-o",
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1{fast} -c max_connections=200", "start"]


def start_server(*, durable: bool = False) -> PostgresServer:
    """initdb + pg_ctl start in a new temporary folder; pytest.fail with the server's own words if it cannot."""
    binaries = server_binaries()
    folder = Path(tempfile.mkdtemp(prefix="tiktok-pg-"))
    owner = None
    if os.geteuid() == 0:
        owner = "nobody"
        entry = pwd.getpwnam(owner)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data, log = folder / "data", folder / "server.log"
    port = free_port()
    steps = [
        [str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
        start_command(binaries, folder, port, durable=durable),
    ]
    for step in steps:
        done = subprocess.run(_as_owner(step, owner), capture_output=True, text=True, timeout=START_TIMEOUT_S + 30)
        if done.returncode != 0:
            server_log = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            shutil.rmtree(folder, ignore_errors=True)
            pytest.fail(f"could not start a throwaway PostgreSQL server ({Path(step[0]).name} exited "
                        f"{done.returncode}): {done.stderr.strip()[-2000:]} {server_log}", pytrace=False)
    return PostgresServer(port=port, folder=folder)


def pause_server(server: PostgresServer) -> None:
    """Shut the server down, keeping its data (a database restart, as far as clients can tell)."""
    owner = "nobody" if os.geteuid() == 0 else None
    subprocess.run(_as_owner([str(server_binaries() / "pg_ctl"), "-D", str(server.folder / "data"), "-m", "fast",
                              "-w", "stop"], owner), capture_output=True, timeout=60, check=True)


def resume_server(server: PostgresServer) -> None:
    """Start a paused server again on the same port."""
    owner = "nobody" if os.geteuid() == 0 else None
    subprocess.run(_as_owner(start_command(server_binaries(), server.folder, server.port), owner),
                   capture_output=True, timeout=120, check=True)


def stop_server(server: PostgresServer) -> None:
    binaries = server_binaries()
    owner = "nobody" if os.geteuid() == 0 else None
    subprocess.run(_as_owner([str(binaries / "pg_ctl"), "-D", str(server.folder / "data"), "-m", "immediate",
                              "stop"], owner), capture_output=True, timeout=60)
    shutil.rmtree(server.folder, ignore_errors=True)
