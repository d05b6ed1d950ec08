"""One outcome vocabulary and one set of exit codes for every command, so people, cron and scripts read the same.

Every item a command works on (an account refreshed or reported, a post, a video transcribed, a file uploaded)
ends with one of the outcome words below. The same word shows in the command's lines (as its label), in
``--json`` (as its value) and on the app's pages; :func:`exit_status` folds a run's outcomes into one exit code.

A command that stops on a typed error (:mod:`tiktok.errors`) exits with :func:`status_for` it: the one mapping from
errors to exit codes, which ``tiktok.cli.run_command`` applies for every command.
"""

from __future__ import annotations

from enum import IntEnum
from collections.abc import Iterable

TYPE_CHECKING = False  # typing's, without loading typing: the commands' --help reads PRECEDENCE_HELP from here
if TYPE_CHECKING:
    from tiktok.errors import TikTokError


class ExitStatus(IntEnum):
    OK = 0              # everything worked
    FAILED = 1          # some work failed for a reason that retrying will not fix by itself
    BAD_INPUT = 2       # bad arguments, configuration or input file; nothing was attempted for it
    RELINK_NEEDED = 3   # an account must be authorised again in the app
    TRY_LATER = 4       # a transient failure: network, TikTok 5xx or rate limit; the next run may succeed


# When a run's items end differently, the code that needs a person most wins; "try later" fixes itself.
PRECEDENCE = (ExitStatus.RELINK_NEEDED, ExitStatus.BAD_INPUT, ExitStatus.FAILED, ExitStatus.TRY_LATER)
PRECEDENCE_HELP = "When several apply: 3 wins over 2, 2 over 1, 1 over 4."


DONE = "done"              # the work happened: refreshed, written, posted (or in the inbox), transcribed, uploaded
SKIPPED = "skipped"        # nothing needed doing (still fresh, already done, linked elsewhere)
FAILED = "failed"          # it did not happen, and running again will not fix that by itself
TRY_LATER = "try_later"    # a transient failure (rate limit, 5xx, network): the next run may succeed
BAD_INPUT = "bad_input"    # the input names something unusable (entry, field, file, account)
RELINK = "relink"          # the account must be linked again in the app (or soon must be)
SCHEDULED = "scheduled"    # queued to run at a set time

OUTCOMES = (DONE, SKIPPED, FAILED, TRY_LATER, BAD_INPUT, RELINK, SCHEDULED)

# What each outcome means for the run's exit status.
OUTCOME_EXIT = {DONE: ExitStatus.OK, SKIPPED: ExitStatus.OK, SCHEDULED: ExitStatus.OK, FAILED: ExitStatus.FAILED,
                TRY_LATER: ExitStatus.TRY_LATER, BAD_INPUT: ExitStatus.BAD_INPUT, RELINK: ExitStatus.RELINK_NEEDED}
LABEL_WIDTH = max(len(word) for word in OUTCOMES)


def outcome_label(outcome: str) -> str:
    """How an outcome reads in a command's lines and on the pages: DONE, TRY LATER, BAD INPUT, ..."""
    if outcome not in OUTCOME_EXIT:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    return outcome.upper().replace("_", " ")


def outcome_line(outcome: str, subject: str, detail: str) -> str:
    """One command line for one item: ``LABEL     subject: detail``."""
    return f"{outcome_label(outcome):<{LABEL_WIDTH}} {subject}: {detail}"


def exit_status(outcomes: Iterable[object]) -> ExitStatus:
    """The exit code of a run whose items ended with ``outcomes``: outcome words, or anything with a ``status``
    attribute holding one (every command's Outcome). This is the only place outcomes become an exit code."""
    return combine(OUTCOME_EXIT[o if isinstance(o, str) else getattr(o, "status")] for o in outcomes)


def combine(codes: Iterable[ExitStatus]) -> ExitStatus:
    """The exit status of a run whose items ended with ``codes``."""
    seen = set(codes)
    return next((code for code in PRECEDENCE if code in seen), ExitStatus.OK)


def status_for(error: TikTokError) -> ExitStatus:
    """The exit code of a command stopped by ``error``: 4 when it is transient (a later run may succeed), 3 when an
    account must be linked again, 2 for what a person must fix (configuration, a file, the database or store, an
    unknown account, a refused change), 1 for anything else."""
    from tiktok.errors import (AccountNotFound, ChangeRefused, ConfigError, DatabaseError, FileProblem, RelinkNeeded,
                               StoreError)

    if error.transient:
        return ExitStatus.TRY_LATER
    if isinstance(error, RelinkNeeded):
        return ExitStatus.RELINK_NEEDED
    if isinstance(error, (ConfigError, FileProblem, DatabaseError, StoreError, AccountNotFound, ChangeRefused)):
        return ExitStatus.BAD_INPUT
    return ExitStatus.FAILED
