"""Transcribe TikTok videos with AssemblyAI: ``python transcribe.py --help``."""

import sys

from tiktok.transcription.cli import main

if __name__ == "__main__":
    sys.exit(main())
