"""``--watch``: post each entry when it is due, for people without cron.

One run now, then sleep until the next scheduled time, waking early when the manifest changes (the app's composer
or an editor added an entry) and at least every ``RESCAN_S`` (a post under review, a run to try again later, a
claim another run held). Every wake is a whole ordinary run (:func:`tiktok.posting.runner.run_queue`), so --watch
posts nothing a cron run would not. Time, sleep and the stop signal are injected: tests drive the loop with a fake
clock and never wait.
"""

from __future__ import annotations

from collections.abc import Callable

from tiktok.posting.runner import RunReport

RESCAN_S = 60.0  # look again at least this often
STEP_S = 2.0  # how often a sleeping watch looks at the manifest's modification time


def next_wake(report: RunReport, now: float, rescan_s: float = RESCAN_S) -> float:
    """When to run again after ``report``: its next scheduled time, or ``rescan_s`` from now if that is sooner."""
    wake = now + rescan_s
    if report.next_due_at is not None:
        wake = min(wake, report.next_due_at)
    return max(wake, now)


def watch(run_once: Callable[[], RunReport], *, clock: Callable[[], float], sleep: Callable[[float], object],
          changed: Callable[[], object], stopped: Callable[[], bool], after: Callable[[RunReport, float], None],
          rescan_s: float = RESCAN_S, step_s: float = STEP_S) -> RunReport | None:
    """Run, wait, run again until ``stopped()``; returns the last report (None if stopped before the first run).

    ``changed()`` returns something that differs when the manifest changed (its mtime); ``after(report, wake)`` is
    told each run's report and when the next run is due, to print them."""
    report = None
    while not stopped():
        report = run_once()
        wake = next_wake(report, clock(), rescan_s)
        after(report, wake)
        seen = changed()
        while not stopped() and clock() < wake:
            sleep(max(0.0, min(step_s, wake - clock())))
            if changed() != seen:
                break
    return report
