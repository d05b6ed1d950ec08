"""Procrastinate's workers as this tool names them: one query for ``python -m tiktok workers``, the status page and
the *worker silent* alert.

Procrastinate 3 keeps a row per running worker in ``procrastinate_workers`` (an id and ``last_heartbeat``, renewed
every few seconds); each of this tool's workers saves its ``host:pid`` in ``tiktok_store_meta`` as
``worker:<id>`` (:func:`tiktok.jobs.worker`), so people read a name instead of a number. How long a worker has been
silent is measured by the database's clock, the one its heartbeats were written with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

NAME_PREFIX = "worker:"  # tiktok_store_meta rows "worker:<Procrastinate's worker id>" -> {"name": "host:pid"}


@dataclass(frozen=True)
class WorkerRow:
    """One of Procrastinate's workers: its id, name (host:pid; "" when it was never named), last heartbeat (epoch
    seconds), how long ago that was by the database's clock, and how many jobs it is running."""

    id: int
    name: str
    last_heartbeat: float
    silent_s: float
    running: int

    def alive(self, stalled_s: float) -> bool:
        """Heard from within ``stalled_s`` (WORKER_STALLED_S): the rule of :func:`tiktok.db.handoff.live_workers`
        and of the workers themselves, which take a worker silent longer for gone and retry its jobs."""
        return self.silent_s < stalled_s


def read_workers(url: str) -> list[WorkerRow]:
    """Every worker in Procrastinate's ``procrastinate_workers`` table, oldest first, with its name and running jobs.
    DatabaseUnavailable when the database cannot be reached; DatabaseError when its tables are missing."""
    from tiktok.db.connection import transaction

    with transaction(url) as conn:
        rows = conn.execute(
            "SELECT w.id, m.value, extract(epoch FROM w.last_heartbeat), extract(epoch FROM now() - w.last_heartbeat), "
            "(SELECT count(*) FROM procrastinate_jobs j WHERE j.worker_id = w.id AND j.status = 'doing') "
            "FROM procrastinate_workers w LEFT JOIN tiktok_store_meta m ON m.name = %s::text || w.id ORDER BY w.id",
            (NAME_PREFIX,)).fetchall()
    return [WorkerRow(id=int(row[0]), name=_name(row[1]), last_heartbeat=float(row[2]),
                      silent_s=max(0.0, float(row[3])), running=int(row[4])) for row in rows]


def _name(value: str | None) -> str:
    try:
        return str(json.loads(value).get("name", "")) if value else ""
    except (ValueError, AttributeError):
        return ""
