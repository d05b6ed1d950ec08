"""Typed errors for everything that can go wrong talking to TikTok, AssemblyAI or the disk.

Every exception class the package raises is in this tree (tests/test_errors.py checks it); ``transient`` on an
instance says whether a later run may succeed without a person (the TRY LATER outcome).

    TikTokError
    ├── ConfigError                 bad or missing configuration (names the variable or file)
    │   └── S3URIError              s3: an --s3-uri / $REPORTS_S3_URI / $MEDIA_STORE that is not s3://bucket/prefix
    ├── FileProblem                 a file or folder this tool reads or writes is unusable (names it)
    │   ├── TokenFileError          user_tokens.json unreadable, corrupt or the wrong shape
    │   ├── ManifestError           posting/manifest: videos_to_upload.json unreadable or not a list of entries
    │   ├── MediaError              posting/media: a video that cannot be inspected at all
    │   ├── MediaNotFixable         media/doctor: media TikTok would refuse that no re-encode can fix
    │   ├── ResultsFileError        store/legacy: an earlier version's <manifest>.results.json cannot be imported
    │   ├── ReportFileError         report/csvfiles: a saved report CSV cannot be read
    │   └── TranscriptsFolderError  transcription/store: the transcripts folder cannot be used
    ├── DatabaseError               db: the PostgreSQL database (DATABASE_URL) cannot be used (never its password)
    │   └── DatabaseUnavailable     db: the server cannot be reached or went away (transient)
    ├── StoreError                  store: the post store (its SQLite file or database) cannot be used (names it)
    │   ├── StoreUnavailable        store: the database cannot be reached or went away (transient)
    │   └── ClaimLost               store: this run's lease on a post or account expired or was taken over
    ├── ChangeRefused               store: a post cannot be changed as asked (nothing was changed)
    ├── MediaStoreError             media/store: the media store (MEDIA_DIR or MEDIA_STORE's bucket) cannot do it
    │   ├── MediaNotFound           media/store: no media with that key
    │   └── MediaStoreUnavailable   media/store: the bucket's server is unreachable, throttles or fails (transient)
    ├── JobFailed                   jobs: a worker's job ended failed (a post that waits for a person, the report)
    ├── AccountNotFound             no stored account with that open_id
    │   └── UnknownAccountName      auth/names: an @name for --account or the composer names no account, or several
    ├── RelinkNeeded                the account's grant is gone; a person must log in again
    ├── TransportError              the request never got an answer (connection refused or dropped, timeout)
    ├── OAuthError                  the token/revoke endpoints' own flat shape {error, error_description, log_id}
    ├── APIError                    the {data, error} envelope of the Display and Content Posting APIs
    │   ├── AuthError               access_token_invalid
    │   ├── ScopeError              scope_not_authorized, scope_permission_missed
    │   ├── RateLimited             rate_limit_exceeded (carries retry_after when known)
    │   ├── InvalidRequest          invalid_param / invalid_params and other 4xx request faults
    │   ├── PostingRefused          caps, bans, audit state, privacy and URL ownership refusals (403, or 200)
    │   └── ServerError             5xx, internal_error, or an answer that breaks the contract (malformed_response)
    ├── GaveUp                      retry: still transient when the attempts ran out or the wait asked was too long
    ├── CaptionTooLong              posting/caption: title and tags do not fit TikTok's limit
    ├── ChunkPlanError              posting/chunks: no valid chunk plan for this size or chunk size
    ├── UploadError                 posting/transfer: the chunk upload cannot go on (names the next chunk)
    │   └── UploadInterrupted       client: it stopped part way; carries the Upload to resume
    ├── PostNotFinished             client: wait_for_post ran out of time (transient)
    ├── PrivacyNotOffered           posting/client: the privacy level is not among the creator's options
    ├── VideoListUnavailable        transcription/videolist: the video list stayed rate-limited or down
    ├── DownloadFailed              transcription/download: yt-dlp could not fetch the video
    │   ├── UnsupportedURL          not a URL yt-dlp can download
    │   ├── LoginRequired           the video needs a logged-in viewer
    │   ├── IPBlocked               TikTok blocks this network (transient)
    │   ├── ExtractorOutdated       yt-dlp's TikTok extractor needs an update
    │   ├── VideoNotFound           removed, private, or a wrong link
    │   ├── AccessDenied            HTTP 403 from the media host (transient)
    │   └── NetworkError            no answer from the media host (transient)
    └── TranscriptionError          transcription/assemblyai: AssemblyAI did not give a transcript
        ├── MediaFileError          the local file to send is missing or unreadable
        ├── TranscriptionAuthError  AssemblyAI refused the API key (401/403)
        ├── TranscriptionRejected   AssemblyAI refused the request (4xx)
        ├── TranscriptionUnavailable  AssemblyAI unreachable or 5xx / 429 (transient)
        ├── TranscriptionTimeout    the transcript did not finish in time (transient)
        └── TranscriptionFailed     AssemblyAI finished with status "error"

Outside the tree, because they never leave their module: ``posting.policy.EntryStop`` (ends one manifest entry
with its outcome), ``posting.fields.Bad`` (one field's problem while validating), ``posting.transfer._ChunkNotTaken``
(one chunk PUT to send again), ``web.flows.StateError`` (a login callback whose state is unknown) and
``web.flows.TooManyLogins`` (no room for another login in progress).

Messages never contain a token or a secret; they end with TikTok's ``log_id`` when there is one.
"""

from __future__ import annotations

from typing import Any


class TikTokError(Exception):
    """Base of every error this package raises on purpose."""

    #: True when trying again later may succeed without a person doing anything.
    transient: bool = False


class ConfigError(TikTokError):
    """Configuration is missing or invalid."""


class FileProblem(TikTokError):
    """A file or folder cannot be used; the message starts with its path (or ``where``, if given)."""

    def __init__(self, path: object, reason: str, *, where: str | None = None) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{where or self.path}: {reason}")


class TokenFileError(FileProblem):
    """The token file cannot be used; it is left exactly as it was."""


class ResultsFileError(FileProblem):
    """An earlier version's results file cannot be imported; it is left as it is and nothing is imported."""


class DatabaseError(TikTokError):
    """The PostgreSQL database cannot be used as asked; the message names it without user or password."""


class DatabaseUnavailable(DatabaseError):
    """The database server cannot be reached, or the connection dropped."""

    transient = True


class StoreError(TikTokError):
    """The post store cannot be used; the message names the file or database (never a password) and what to do.
    Nothing was changed: every change is one transaction."""


class StoreUnavailable(StoreError):
    """The store's database server cannot be reached, or the connection dropped."""

    transient = True


class ClaimLost(StoreError):
    """This run no longer holds the lease (claim) on a post or an account: it expired while the run was stopped or
    cut off, and another run may have taken it over. The run stops that post before any call that could create it
    and writes nothing more; a later run sees how it ended (try later)."""

    transient = True


class ChangeRefused(TikTokError):
    """A post cannot be changed as asked (it started, was changed meanwhile, or the change is not valid); the
    message says why. Nothing was changed."""


class JobFailed(TikTokError):
    """A worker's job whose work ended failed: its post failed in a way that waits for a person (a missing file, a
    refusal, a relink), or the daily report did not complete. Raised from the task so that Procrastinate records the
    job as failed; the message says why in plain words."""


class AccountNotFound(TikTokError):
    """No account with this open_id is kept where we looked (the token file or database it names)."""

    def __init__(self, open_id: str, path: object) -> None:
        self.open_id = open_id
        super().__init__(f"no account with open_id {open_id!r} in {path}")


class RelinkNeeded(TikTokError):
    """The refresh token is dead, expired or revoked: the account must be authorised again in the app."""

    def __init__(self, open_id: str, reason: str) -> None:
        self.open_id = open_id
        self.reason = reason
        super().__init__(f"account {open_id} needs to be linked again: {reason}")


class TransportError(TikTokError):
    """No usable HTTP answer arrived."""

    transient = True

    @classmethod
    def on(cls, method: str, base: str, path: str, exc: BaseException) -> "TransportError":
        """The request to ``base + path`` got no answer: the message names the address tried, and for a loopback
        address (only ever the emulator: TikTok is never there) what to start or set instead of blaming TikTok."""
        from urllib.parse import urlsplit

        text = f"{method} {base}{path} failed: {type(exc).__name__}"
        refused = type(exc).__name__ == "ConnectionError"  # requests' own; a timeout means something is there
        if refused and urlsplit(base).hostname in ("127.0.0.1", "localhost", "::1"):
            text += (f"; nothing answers at {base}, where the TikTok emulator should be: start python app.py in "
                     "this folder (it tells the commands run here where its emulator listens), or set "
                     "TIKTOK_EMULATOR_PORT (or TIKTOK_API_BASE) in .env to where yours listens")
        return cls(text)


def _with_log_id(message: str, log_id: str | None) -> str:
    return f"{message} (log_id {log_id})" if log_id else message


class OAuthError(TikTokError):
    """An error from /v2/oauth/token/ or /v2/oauth/revoke/."""

    def __init__(self, error: str, description: str = "", *, log_id: str | None = None,
                 http_status: int | None = None) -> None:
        self.error = error
        self.description = description
        self.log_id = log_id
        self.http_status = http_status
        text = f"{error}: {description}" if description else error
        super().__init__(_with_log_id(text, log_id))

    @property
    def transient(self) -> bool:  # type: ignore[override]
        return self.error in {"server_error", "temporarily_unavailable"} or (self.http_status or 0) >= 500


class APIError(TikTokError):
    """A non-``ok`` ``error.code`` from an envelope endpoint (whatever the HTTP status was)."""

    def __init__(self, code: str, message: str = "", *, log_id: str | None = None,
                 http_status: int | None = None) -> None:
        self.code = code
        self.message = message
        self.log_id = log_id
        self.http_status = http_status
        text = f"{code}: {message}" if message else code
        super().__init__(_with_log_id(text, log_id))


class AuthError(APIError):
    """The access token is unknown, expired or revoked."""


class ScopeError(APIError):
    """The user did not grant a scope this call needs; refreshing will not help, re-consent will."""


class RateLimited(APIError):
    """Too many calls (``rate_limit_exceeded``); ``retry_after`` is the seconds TikTok asked to wait, when it said."""

    transient = True

    def __init__(self, code: str, message: str = "", *, log_id: str | None = None,
                 http_status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(code, message, log_id=log_id, http_status=http_status)
        self.retry_after = retry_after


class InvalidRequest(APIError):
    """TikTok rejected the request itself (a bug here or bad input)."""


class PostingRefused(APIError):
    """TikTok refuses to post for this creator or app right now (caps, bans, audit, privacy, URL ownership)."""


class ServerError(APIError):
    """TikTok failed (5xx, ``internal_error``) or answered outside its contract (``malformed_response``)."""

    transient = True


_CODE_CLASSES: dict[str, type[APIError]] = {
    "access_token_invalid": AuthError,
    "scope_not_authorized": ScopeError,
    "scope_permission_missed": ScopeError,
    "rate_limit_exceeded": RateLimited,
    "invalid_param": InvalidRequest,
    "invalid_params": InvalidRequest,
    "invalid_file_upload": InvalidRequest,
    "invalid_publish_id": InvalidRequest,
    "token_not_authorized_for_specified_publish_id": InvalidRequest,
    "publish_not_cancellable": InvalidRequest,
    "app_version_check_failed": InvalidRequest,
    "spam_risk_too_many_posts": PostingRefused,
    "spam_risk_user_banned_from_posting": PostingRefused,
    "spam_risk_too_many_pending_share": PostingRefused,
    "reached_active_user_cap": PostingRefused,
    "unaudited_client_can_only_post_to_private_accounts": PostingRefused,
    "url_ownership_unverified": PostingRefused,
    "privacy_level_option_mismatch": PostingRefused,
    "internal_error": ServerError,
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds; None when absent or not a number."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0)


def error_from_envelope(http_status: int, body: Any, retry_after: str | None = None) -> APIError | None:
    """Map an envelope response to an error, or None when ``error.code`` is ``ok``.

    HTTP status alone never means success: TikTok sends some refusals with HTTP 200.
    """
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return ServerError("malformed_response", f"HTTP {http_status} without an error envelope",
                           http_status=http_status)
    code = error["code"]
    if code == "ok":
        return None
    message = str(error.get("message") or "")
    log_id = error.get("log_id") or error.get("logid")
    if code in _CODE_CLASSES:
        cls = _CODE_CLASSES[code]
    elif http_status == 429:
        cls = RateLimited
    elif http_status >= 500:
        cls = ServerError
    elif http_status in (401,):
        cls = AuthError
    elif http_status == 403:
        cls = PostingRefused
    else:
        cls = InvalidRequest
    if cls is RateLimited:
        return RateLimited(code, message, log_id=log_id, http_status=http_status,
                           retry_after=parse_retry_after(retry_after))
    return cls(code, message, log_id=log_id, http_status=http_status)
