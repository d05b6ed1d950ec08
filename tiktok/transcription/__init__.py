"""Transcription: from an account, a URL or a file to a searchable transcript.

- ``cli``        transcribe.py's command line
- ``jobs``       inputs become one job per video (or an outcome saying why not)
- ``run``        each job: download, transcribe, save
- ``videolist``  an account's videos through /v2/video/list/
- ``download``   yt-dlp, for TikTok URLs and media URLs
- ``assemblyai`` the AssemblyAI SDK, pointed at the configured base URL
- ``store``      transcripts on disk, and search over them
"""
