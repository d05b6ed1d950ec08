"""How many accounts the daily report reads at once (light: the report command's --help reads it)."""

DEFAULT_JOBS = 4  # accounts read at once: ~4x faster on a slow network, far under the Display API's 600/min
MAX_JOBS = 32
