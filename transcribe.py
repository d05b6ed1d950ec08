"""Transcribe TikTok videos with AssemblyAI: ``python transcribe.py --help`` (the same as
``python -m tiktok transcribe``)."""

import sys

from tiktok.cli import main

if __name__ == "__main__":
    sys.exit(main(command="transcribe", prog="transcribe.py"))
