"""A throwaway PostgreSQL cluster of a test's own, started with the server settings and login rules the test needs
(``max_connections=100`` as a default server has it, a role that must give its password, ...), where the session's
shared cluster (:mod:`tests.support.postgres`) runs with trust logins and room for the whole suite.

It is made like the shared one (``initdb`` in a temporary folder, as ``nobody`` when run as root), then started again
with ``options`` (``-c name=value`` server settings) and ``hba`` lines put first in ``pg_hba.conf``. Fails the test,
never skips it, when no server starts.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.postgres import (START_TIMEOUT_S, PostgresServer, _as_owner, pause_server, server_binaries,
                                    start_server, stop_server)


def start_command(server: PostgresServer, options: str) -> list[str]:
    folder = server.folder
    return [str(server_binaries() / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "server.log"), "-w",
            "-t", str(START_TIMEOUT_S), "-o", f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 {options}",
            "start"]


@contextmanager
def own_cluster(*, options: str = "", hba: tuple[str, ...] = ()) -> Iterator[PostgresServer]:
    """A cluster started with ``options`` and ``hba`` (see the module docstring), stopped and removed at the end."""
    server = start_server()
    try:
        pause_server(server)
        rules = server.folder / "data" / "pg_hba.conf"
        rules.write_text("".join(f"{line}\n" for line in hba) + rules.read_text())
        owner = "nobody" if os.geteuid() == 0 else None
        done = subprocess.run(_as_owner(start_command(server, options), owner), capture_output=True, text=True,
                              timeout=START_TIMEOUT_S + 30)
        if done.returncode != 0:
            pytest.fail(f"the test's own PostgreSQL cluster did not start: {done.stderr.strip()[-2000:]} "
                        f"{server_log(server)[-2000:]}", pytrace=False)
        yield server
    finally:
        stop_server(server)


def server_log(server: PostgresServer) -> str:
    path = Path(server.folder) / "server.log"
    return path.read_text(errors="replace") if path.exists() else ""
