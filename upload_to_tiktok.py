"""Post the videos listed in videos_to_upload.json to TikTok: ``python upload_to_tiktok.py --help`` (the same as
``python -m tiktok post``)."""

import sys

from tiktok.cli import main

if __name__ == "__main__":
    sys.exit(main(command="post", prog="upload_to_tiktok.py"))
