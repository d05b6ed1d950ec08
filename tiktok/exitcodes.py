"""Exit codes shared by every command, so cron and scripts can tell what to do next."""

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0              # everything worked
    FAILED = 1          # some work failed for a reason that retrying will not fix by itself
    BAD_INPUT = 2       # bad arguments, configuration or input file; nothing was attempted for it
    RELINK_NEEDED = 3   # an account must be authorised again in the app (takes precedence over TRY_LATER)
    TRY_LATER = 4       # a transient failure: network, TikTok 5xx or rate limit; the next run may succeed
