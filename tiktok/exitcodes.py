"""Exit codes shared by every command, so cron and scripts can tell what to do next."""

from __future__ import annotations

from enum import IntEnum
from typing import Iterable


class ExitStatus(IntEnum):
    OK = 0              # everything worked
    FAILED = 1          # some work failed for a reason that retrying will not fix by itself
    BAD_INPUT = 2       # bad arguments, configuration or input file; nothing was attempted for it
    RELINK_NEEDED = 3   # an account must be authorised again in the app
    TRY_LATER = 4       # a transient failure: network, TikTok 5xx or rate limit; the next run may succeed


# When a run's items end differently, the code that needs a person most wins; "try later" fixes itself.
PRECEDENCE = (ExitStatus.RELINK_NEEDED, ExitStatus.BAD_INPUT, ExitStatus.FAILED, ExitStatus.TRY_LATER)
PRECEDENCE_HELP = "When several apply: 3 wins over 2, 2 over 1, 1 over 4."


# What each per-item outcome word means for the run's exit status (commands add words of their own).
OUTCOME_EXIT = {"relink": ExitStatus.RELINK_NEEDED, "bad_input": ExitStatus.BAD_INPUT, "failed": ExitStatus.FAILED,
                "try_later": ExitStatus.TRY_LATER}


def combine(codes: Iterable[ExitStatus]) -> ExitStatus:
    """The exit status of a run whose items ended with ``codes``."""
    seen = set(codes)
    return next((code for code in PRECEDENCE if code in seen), ExitStatus.OK)
