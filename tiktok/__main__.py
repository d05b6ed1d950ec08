"""``python -m tiktok``: the command tree of :mod:`tiktok.cli`."""

import sys

from tiktok.cli import main

sys.exit(main())
