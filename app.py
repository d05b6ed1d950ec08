"""Run the local web app: ``python app.py``.

With no TIKTOK_CLIENT_KEY configured it starts the local TikTok emulator too and labels every page as emulated.
"""

from __future__ import annotations

import sys

from tiktok.web.run import main

if __name__ == "__main__":
    sys.exit(main())
