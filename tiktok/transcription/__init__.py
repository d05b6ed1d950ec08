"""Transcription: from an account, a URL or a file to a searchable transcript.

- ``command``    how transcribe.py's run goes once its options are read (tiktok/commands/transcribe.py)
- ``jobs``       inputs become one job per video (or an outcome saying why not)
- ``run``        each job: TikTok's captions, or download and transcribe; then save
- ``videolist``  an account's videos through /v2/video/list/
- ``captions``   a TikTok video's own captions through yt-dlp (tried first)
- ``subtitles``  WebVTT/SubRip files as cues, and cues as text, SRT and VTT
- ``download``   yt-dlp, for TikTok URLs and media URLs
- ``assemblyai`` the AssemblyAI SDK, pointed at the configured base URL
- ``options``    AssemblyAI features a creator picks, and the polling interval
- ``store``      transcripts on disk, and search over them
"""
