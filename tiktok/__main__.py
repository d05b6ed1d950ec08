import sys

from tiktok.cli import main

sys.exit(main())
