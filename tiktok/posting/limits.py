"""TikTok's documented posting numbers (reference sections 3 and 4), with no imports, so the CLI's help loads fast."""

PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")  # ref 3.2

MIN_CHUNK_BYTES = 5 * 1024 * 1024  # guide: chunks >= "5 MB"; read as MiB (5,242,880), the larger minimum
MAX_CHUNK_BYTES = 64_000_000  # guide: chunks <= "64 MB"; read as 10**6, the smaller maximum
MAX_FINAL_CHUNK_BYTES = 128_000_000  # guide: the final chunk may grow to "128 MB"; read as 10**6
SINGLE_CHUNK_MAX_BYTES = 64_000_000  # guide: videos above "64 MB" must be multi-chunk; 10**6 reading is stricter
MAX_CHUNKS = 1000  # guide: 1 <= total_chunk_count <= 1000
# Guide and media requirements: videos up to "4 GB". 4 * 10**9 is the smaller reading, so a file we accept is
# accepted under either reading; 4 GiB files (4,294,967,296 bytes) would only pass if TikTok means GiB.
MAX_VIDEO_BYTES = 4_000_000_000
DEFAULT_CHUNK_BYTES = 10_000_000  # our choice: inside [MIN_CHUNK_BYTES, MAX_CHUNK_BYTES] under both readings

# Per user access token, per sliding minute (reference section 7): calls of each kind a run may send. The video
# list (the look for a caption before a post the store has no record of) is a Display API endpoint: 600 a minute.
POSTING_LIMITS = {"init": 6, "creator_info": 20, "status": 30, "video_list": 600}

# The default --jobs is one worker per account with due work, at most this many (issue 27): TikTok's limits are per
# token, so accounts do not slow each other; 16 keeps a run's threads and connections modest on a small machine.
DEFAULT_JOBS_BOUND = 16
MAX_JOBS = 32
