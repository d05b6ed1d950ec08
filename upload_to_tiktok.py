"""Post the videos listed in videos_to_upload.json to TikTok: ``python upload_to_tiktok.py --help``."""

import sys

from tiktok.posting.cli import main

if __name__ == "__main__":
    sys.exit(main())
