"""transcribe.py's numbers: jobs at once, the wait for AssemblyAI, and AssemblyAI's documented limits (no imports,
so the command's --help loads fast; :mod:`tiktok.transcription.options` says where each comes from)."""

DEFAULT_JOBS = 2  # videos worked on at once
DEFAULT_TIMEOUT_S = 900.0  # AssemblyAI usually needs well under a minute for a TikTok-length clip; 15 min is slack
MAX_KEY_TERMS = 1000           # AssemblyAI keyterms prompting: "up to 1,000 words or phrases"
MAX_KEY_TERM_WORDS = 6         # ... "maximum 6 words per phrase"
MAX_SPEAKERS_EXPECTED = 10     # SDK docstring for speakers_expected: "Up to 10 speakers are supported"
SHORT_CLIP_POLL_S = 0.5        # our choice: at most half a second late, 2 polls a second per transcript
