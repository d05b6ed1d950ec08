"""Run the local web app: ``python app.py`` (the same as ``python -m tiktok app``; ``--help`` for the options).

With no TIKTOK_CLIENT_KEY configured it starts the local TikTok emulator too and labels every page as emulated.
"""

import sys

from tiktok.cli import main

if __name__ == "__main__":
    sys.exit(main(command="app", prog="app.py"))
