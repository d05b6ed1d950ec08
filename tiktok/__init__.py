"""Work with TikTok's official Open API from your own machine.

The package holds all real logic; ``app.py``, ``upload_to_tiktok.py`` and ``transcribe.py`` are thin entry points.
"""

__version__ = "0.1.0"
