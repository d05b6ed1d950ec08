"""The limiter in PostgreSQL: processes on their own keep to one shared sliding window per account and kind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tiktok.db.migrations import migrate
from tiktok.db.ratelimit import PgLimiter

pytestmark = pytest.mark.slow  # throwaway PostgreSQL clusters

ROOT = Path(__file__).resolve().parents[1]
WINDOW_S, MARGIN_S, LIMIT = 0.5, 0.1, 4  # a short window keeps the test quick; the rule is the same at 60 s
WORKER = """
import sys, time
from tiktok.db.ratelimit import PgLimiter
from tiktok.db.connection import transaction
url, n = sys.argv[1], int(sys.argv[2])
limiter = PgLimiter(url, {"init": %d}, window_s=%r, margin_s=%r)
for _ in range(n):
    limiter.acquire("ada", "init")
    with transaction(url) as conn:
        print(conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0], flush=True)
""" % (LIMIT, WINDOW_S, MARGIN_S)


def test_three_processes_share_one_window(database_url):
    migrate(database_url)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, database_url, "4"], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
             for _ in range(3)]
    results = [(p.wait(timeout=60), p.stdout.read(), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
    stamps = sorted(float(line) for _, out, _ in results for line in out.split())
    assert len(stamps) == 12
    for i in range(len(stamps) - LIMIT):  # any LIMIT+1 consecutive calls span more than the window
        assert stamps[i + LIMIT] - stamps[i] >= WINDOW_S, (i, stamps)
    assert stamps[-1] - stamps[0] >= 2 * WINDOW_S  # 12 calls at 4 a window needed at least three windows


def test_unknown_kind_and_bad_limits_are_refused(database_url):
    with pytest.raises(ValueError):
        PgLimiter(database_url, {"init": 0})
    with pytest.raises(ValueError, match="no limit for 'status'"):
        PgLimiter(database_url, {"init": 6}).acquire("ada", "status")
