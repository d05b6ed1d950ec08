"""The public Python API: log in with TikTok and post, for one registered app (``from tiktok import TikTokClient``).

:class:`TikTokClient` is a thin, typed face over the same calls the commands, the app and the workers make
(:mod:`tiktok.auth.oauth` for the token endpoint, :mod:`tiktok.api` and :mod:`tiktok.posting.client` for the
envelope endpoints, :mod:`tiktok.posting.transfer` for chunk PUTs, :mod:`tiktok.pages` for the video list): there
is no second path to TikTok, and ``tests/test_api_layer.py`` fails if one appears.

The rules it keeps, each from TikTok's pages (``reference/tiktok-open-api.md``):

- PKCE: a fresh verifier per login; the S256 challenge in lowercase hex when the redirect URI is on this machine
  (Login Kit for Desktop), RFC 7636's unpadded base64url otherwise (reference 1.2).
- Token lifetimes are relative (``expires_in``, ``refresh_expires_in``); :class:`Tokens` holds the absolute times
  computed from them. A refresh rotates the refresh token: keep the :class:`Tokens` it returns.
- A Direct Post asks ``creator_info`` first and sends only a privacy level the creator is offered; comments, duets
  and stitches stay off unless asked for (TikTok's content-sharing guidelines) and off where the creator has
  disabled them. A draft goes to the inbox endpoint, which takes no ``post_info``.
- A file goes up in chunks of ``floor(size / chunk_size)`` with the remainder in the last (reference 4.1), each
  read from disk as it is sent: memory does not grow with the file.

Everything not in ``tiktok.__all__`` is private and may change in any release.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol, cast, runtime_checkable
from urllib.parse import parse_qs, urlsplit

import requests

from tiktok.api import DEFAULT_TIMEOUT, ApiClient
from tiktok.auth.oauth import OAuthClient, TokenGrant, build_authorize_url
from tiktok.auth.pkce import code_challenge, encoding_for, make_verifier
from tiktok.auth.access import fresh_account
from tiktok.auth.tokens import Account, TokenStore
from tiktok.config import DEFAULT_SCOPES, TIKTOK_API_BASE, TIKTOK_AUTH_URL
from tiktok.errors import AccountNotFound, OAuthError, TikTokError
from tiktok.pages import video_pages
from tiktok.posting.caption import build_caption
from tiktok.posting.chunks import ChunkPlan, plan_chunks
from tiktok.posting.client import (
    CreatorInfo, PostingClient, PublishStatus, choose_privacy, file_source_info, photo_body, pull_source_info,
    video_post_info,
)
from tiktok.posting.limits import DEFAULT_CHUNK_BYTES
from tiktok.posting.manifest import PostRequest
from tiktok.posting.media import MediaError, check_video, mime_type, probe
from tiktok.posting.transfer import UploadError, send_chunks, upload_session
from tiktok.retry import Runtime
from tiktok.services import http_session

PkceChoice = Literal["auto", "hex", "base64url"]
Progress = Callable[[int, int], None]  # (bytes sent so far, bytes in all)
DEFAULT_VIDEO_FIELDS = ("id", "title", "video_description", "create_time", "duration", "cover_image_url",
                        "share_url", "view_count", "like_count", "comment_count", "share_count")
WAIT_FIRST_S = 2.0  # wait_for_post: the first pause between status checks ...
WAIT_GROWTH = 1.5   # ... grows by this much after each check ...
WAIT_LONGEST_S = 15.0  # ... to at most this: about 8 checks a minute, well under TikTok's 30 a minute per token
WAIT_TIMEOUT_S = 600.0  # wait_for_post gives up after this long by default


class UploadInterrupted(UploadError):
    """The chunk upload stopped part way; ``upload`` says where, for :meth:`TikTokClient.resume_upload`."""

    def __init__(self, message: str, upload: "Upload", *, transient: bool) -> None:
        super().__init__(message, next_chunk=upload.next_chunk, transient=transient)
        self.upload = upload


class PostNotFinished(TikTokError):
    """:meth:`TikTokClient.wait_for_post` ran out of time; ``last`` is the latest status TikTok gave."""

    transient = True

    def __init__(self, publish_id: str, waited_s: float, last: PublishStatus | None) -> None:
        seen = last.status if last is not None else "no answer"
        super().__init__(f"post {publish_id} not finished after {waited_s:.0f} s (last status: {seen})")
        self.publish_id = publish_id
        self.last = last


@dataclass(frozen=True)
class Tokens:
    """One account's grant. Times are absolute Unix seconds, computed from TikTok's relative lifetimes."""

    open_id: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float
    refresh_expires_at: float
    scopes: tuple[str, ...] = ()

    @classmethod
    def from_grant(cls, grant: TokenGrant, now: float) -> Tokens:
        """The grant's lifetimes counted from ``now`` (the moment its answer arrived)."""
        return cls(open_id=grant.open_id, access_token=grant.access_token, refresh_token=grant.refresh_token,
                   expires_at=now + grant.expires_in, refresh_expires_at=now + grant.refresh_expires_in,
                   scopes=grant.scopes)

    @classmethod
    def from_account(cls, account: Account) -> Tokens:
        """The tokens of an account kept in a token store."""
        return cls(open_id=account.open_id, access_token=account.access_token, refresh_token=account.refresh_token,
                   expires_at=account.expires_at, refresh_expires_at=account.refresh_expires_at,
                   scopes=account.scopes)

    def expires_within(self, seconds: float, now: float) -> bool:
        """True when the access token has at most ``seconds`` left at ``now``."""
        return self.expires_at - now <= seconds


AccessToken = Tokens | str  # an access token, alone or with the rest of its grant


@dataclass(frozen=True)
class Login:
    """A login in progress: send the person to ``url``; keep the rest (the verifier is a secret) for the callback."""

    url: str
    state: str = field(repr=False)
    code_verifier: str = field(repr=False)
    redirect_uri: str
    pkce: Literal["hex", "base64url"]


@dataclass(frozen=True)
class PostOptions:
    """What a post says and allows. Comments, duets and stitches are off unless you turn them on.

    ``privacy`` must be one of the creator's ``privacy_options`` (``None``: SELF_ONLY, the safest). ``caption`` and
    ``tags`` (without ``#``) become the video's title, or a photo post's description; ``title`` is a photo post's
    title. ``branded_content`` and ``your_brand`` are TikTok's commercial-content disclosures."""

    caption: str = ""
    tags: tuple[str, ...] = ()
    privacy: str | None = None
    allow_comment: bool = False
    allow_duet: bool = False
    allow_stitch: bool = False
    branded_content: bool = False
    your_brand: bool = False
    ai_generated: bool = False
    cover_timestamp_ms: int | None = None
    title: str | None = None


@dataclass(frozen=True)
class Upload:
    """A post TikTok has accepted to start. For a file, also where its upload stands (``next_chunk``)."""

    publish_id: str
    to_inbox: bool
    plan: ChunkPlan | None = None
    next_chunk: int = 0
    upload_url: str | None = field(default=None, repr=False)  # its upload_token is a credential
    mime_type: str | None = None
    started_at: float = 0.0

    @property
    def complete(self) -> bool:
        """True when every byte has been sent (always for a URL pull or photos)."""
        return self.plan is None or self.next_chunk >= self.plan.total_chunk_count


@dataclass(frozen=True)
class Video:
    """One of the account's public videos (``/v2/video/list/``); a field not asked for is None."""

    id: str
    title: str | None = None
    video_description: str | None = None
    create_time: int | None = None
    duration: int | None = None
    cover_image_url: str | None = None
    share_url: str | None = None
    view_count: int | None = None
    like_count: int | None = None
    comment_count: int | None = None
    share_count: int | None = None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> Video:
        """The video object's known fields; anything else TikTok sends is ignored."""
        def text(name: str) -> str | None:
            value = item.get(name)
            return str(value) if value is not None else None

        def count(name: str) -> int | None:
            value = item.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        return cls(id=str(item.get("id") or ""), title=text("title"), video_description=text("video_description"),
                   create_time=count("create_time"), duration=count("duration"),
                   cover_image_url=text("cover_image_url"), share_url=text("share_url"),
                   view_count=count("view_count"), like_count=count("like_count"),
                   comment_count=count("comment_count"), share_count=count("share_count"))


class TokenKeeper(Protocol):
    """Somewhere tokens live between runs; ``tiktok.TokenFile`` (the locked JSON file) is one."""

    def get(self, open_id: str) -> Account | None: ...

    def put(self, account: Account) -> None: ...


@runtime_checkable
class _LockingKeeper(Protocol):
    """A keeper that can lock one account for a read-refresh-write (the token file, or its PostgreSQL table)."""

    clock: Callable[[], float]

    def get(self, open_id: str) -> Account | None: ...

    def locked(self, open_id: str) -> AbstractContextManager[dict[str, Account]]: ...


class TikTokClient:
    """One registered TikTok app: its client key and secret, redirect URI and scopes.

    ``api_base`` and ``auth_url`` default to TikTok's own; point ``api_base`` at the emulator
    (``python -m tiktok.emulator``) to try everything locally, and ``auth_url`` follows it. ``session`` (a
    ``requests.Session``) and ``timeout`` (seconds: connect, read) apply to every call; ``clock`` (Unix seconds)
    and ``sleep`` are what token lifetimes and :meth:`wait_for_post` use, so tests can control time."""

    def __init__(self, client_key: str, client_secret: str, redirect_uri: str, *,
                 scopes: Iterable[str] = DEFAULT_SCOPES, api_base: str = TIKTOK_API_BASE,
                 auth_url: str | None = None, pkce: PkceChoice = "auto",
                 session: requests.Session | None = None,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> None:
        if not client_key or not client_secret:
            raise ValueError("client_key and client_secret are both needed (your app's page in TikTok's "
                             "developer portal shows them)")
        if pkce not in ("auto", "hex", "base64url"):
            raise ValueError(f"pkce must be 'auto', 'hex' or 'base64url', not {pkce!r}")
        self.client_key = client_key
        self.redirect_uri = redirect_uri
        self.scopes = tuple(scopes)
        self.api_base = api_base.rstrip("/")
        self.auth_url = auth_url or (TIKTOK_AUTH_URL if self.api_base == TIKTOK_API_BASE
                                     else self.api_base + "/v2/auth/authorize/")
        self._pkce = pkce
        self._clock = clock
        self._sleep = sleep
        self._session = session if session is not None else http_session()
        self._oauth = OAuthClient(self._session, api_base=self.api_base, client_key=client_key,
                                  client_secret=client_secret, timeout=timeout)
        self._api = ApiClient(self._session, api_base=self.api_base, timeout=timeout)
        self._posting = PostingClient(self._api)

    def __repr__(self) -> str:
        return f"TikTokClient(client_key={self.client_key!r}, api_base={self.api_base!r}, client_secret=***)"

    # --- Login Kit ---------------------------------------------------------------------------------------------

    def start_login(self, *, state: str | None = None, force_consent: bool = True) -> Login:
        """A new login: the consent page's URL with a fresh PKCE verifier and a random ``state``."""
        verifier = make_verifier()
        encoding = encoding_for(self.redirect_uri) if self._pkce == "auto" else self._pkce
        state = state or secrets.token_urlsafe(24)
        url = build_authorize_url(self.auth_url, client_key=self.client_key, scopes=self.scopes,
                                  redirect_uri=self.redirect_uri, state=state,
                                  code_challenge=code_challenge(verifier, encoding), force_consent=force_consent)
        return Login(url=url, state=state, code_verifier=verifier, redirect_uri=self.redirect_uri, pkce=encoding)

    def finish_login(self, redirected_to: str, login: Login) -> Tokens:
        """Tokens from the address TikTok sent the browser back to (the redirect URI with ``code`` and ``state``).

        OAuthError when the person declined, the ``state`` is not this login's, or TikTok refused the code."""
        query = {key: values[0] for key, values in parse_qs(urlsplit(redirected_to).query).items()}
        if not hmac.compare_digest(query.get("state", "").encode(), login.state.encode()):
            raise OAuthError("state_mismatch", "the address is not the answer to this login (its state differs)")
        if "error" in query:
            raise OAuthError(query["error"], query.get("error_description", "TikTok did not grant access"))
        if not query.get("code"):
            raise OAuthError("invalid_request", "the address has no code; paste the whole address")
        return self.exchange_code(query["code"], login)

    def exchange_code(self, code: str, login: Login) -> Tokens:
        """Tokens for an authorization ``code`` (already URL-decoded) from this ``login``'s callback."""
        grant = self._oauth.exchange_code(code, redirect_uri=login.redirect_uri, code_verifier=login.code_verifier)
        return Tokens.from_grant(grant, self._clock())

    def refresh(self, tokens: Tokens) -> Tokens:
        """New tokens for ``tokens``' grant. TikTok rotates the refresh token: keep what this returns, at once."""
        grant = self._oauth.refresh(tokens.refresh_token)
        if grant.open_id != tokens.open_id:
            raise OAuthError("malformed_response", "refresh answered for a different account")
        fresh = Tokens.from_grant(grant, self._clock())
        return fresh if fresh.scopes else replace(fresh, scopes=tokens.scopes)

    def revoke(self, tokens: AccessToken) -> None:
        """End the grant at TikTok: its access and refresh tokens stop working."""
        self._oauth.revoke(_access(tokens))

    def fresh_tokens(self, keeper: TokenKeeper, open_id: str, *, leeway_s: float = 600.0) -> Tokens:
        """The account's tokens from ``keeper``, refreshed first when the access token has under ``leeway_s`` left.

        With a ``TokenFile`` the read, refresh and write happen under its lock (and Ctrl-C waits for the write), so
        processes sharing the file never lose a rotated token, exactly as the commands do; any other keeper is read
        once and, after a refresh, written once."""
        if isinstance(keeper, _LockingKeeper):
            store = cast(TokenStore, keeper)  # the file, or the PostgreSQL store of the same shape
            return Tokens.from_account(fresh_account(store, self._oauth, open_id, leeway=leeway_s))
        account = keeper.get(open_id)
        if account is None:
            raise AccountNotFound(open_id, type(keeper).__name__)
        tokens = Tokens.from_account(account)
        if not tokens.expires_within(leeway_s, self._clock()):
            return tokens
        tokens = self.refresh(tokens)
        keeper.put(_account_with(account, tokens, self._clock()))
        return tokens

    def keep(self, keeper: TokenKeeper, tokens: Tokens, *, display_name: str | None = None,
             username: str | None = None) -> None:
        """Store ``tokens`` in ``keeper``, keeping what it already knows of the account (names, link time).

        Keep every :class:`Tokens` a login or refresh returns: the refresh token it replaced no longer works."""
        now = self._clock()
        known = keeper.get(tokens.open_id) or Account(
            open_id=tokens.open_id, access_token="", refresh_token="", expires_at=0, refresh_expires_at=0,
            linked_at=now)
        account = _account_with(known, tokens, now)
        keeper.put(replace(account, display_name=account.display_name if display_name is None else display_name,
                           username=account.username if username is None else username))

    # --- Display API -------------------------------------------------------------------------------------------

    def user_info(self, tokens: AccessToken, fields: Iterable[str] = ("open_id", "display_name")) -> dict[str, Any]:
        """``/v2/user/info/`` with only ``fields`` (each needs its scope: profile and stats fields are extra)."""
        return self._api.user_info(_access(tokens), tuple(fields))

    def videos(self, tokens: AccessToken, *, fields: Iterable[str] = DEFAULT_VIDEO_FIELDS,
               limit: int | None = None) -> Iterator[Video]:
        """The account's public videos, newest first, page by page as you iterate (scope ``video.list``)."""
        token, names = _access(tokens), tuple(fields)
        if "id" not in names:
            names = ("id", *names)
        seen = 0
        for page in video_pages(lambda body: self._api.video_page(token, names, body)):
            for item in page:
                if limit is not None and seen >= limit:
                    return
                seen += 1
                yield Video.from_api(item)

    # --- Content Posting API ------------------------------------------------------------------------------------

    def creator_info(self, tokens: AccessToken) -> CreatorInfo:
        """Who would post, what privacy levels they are offered, and what they have turned off."""
        return self._posting.creator_info(_access(tokens))

    def post_video_file(self, tokens: AccessToken, path: str | os.PathLike[str], options: PostOptions | None = None,
                        *, to_inbox: bool = False, chunk_size: int = DEFAULT_CHUNK_BYTES,
                        on_progress: Progress | None = None) -> Upload:
        """Post a video file: Direct Post (after ``creator_info``), or a draft to the inbox with ``to_inbox``.

        The file is checked (container, codec, size, and the creator's longest allowed duration) before anything is
        sent, then streamed in chunks; ``on_progress(sent, total)`` follows the bytes. When the upload stops part
        way, :class:`UploadInterrupted` carries the :class:`Upload` to hand to :meth:`resume_upload` (within the
        upload URL's hour)."""
        token, options = _access(tokens), options or PostOptions()
        info = probe(Path(path))
        creator = None if to_inbox else self.creator_info(token)
        problems = check_video(info, max_duration_s=creator.max_duration_s if creator else None)
        if problems:
            raise MediaError(path, "; ".join(p.removeprefix(f"{info.path}: ") for p in problems))
        plan = plan_chunks(info.size_bytes, chunk_size)
        post_info = None if creator is None else self._video_post_info(options, creator)
        started = self._posting.init_video(token, file_source_info(plan), post_info)
        upload = Upload(publish_id=started.publish_id, to_inbox=to_inbox, plan=plan, upload_url=started.upload_url,
                        mime_type=mime_type(info), started_at=self._clock())
        return self.resume_upload(upload, path, on_progress=on_progress)

    def resume_upload(self, upload: Upload, path: str | os.PathLike[str], *,
                      on_progress: Progress | None = None) -> Upload:
        """Send ``upload``'s chunks from ``next_chunk`` on (the same file, unchanged); returns it complete."""
        if upload.complete:
            return upload
        assert upload.plan is not None and upload.upload_url is not None and upload.mime_type is not None
        plan, where = upload.plan, [upload.next_chunk]
        if os.stat(path).st_size != plan.video_size:
            raise UploadError(f"{os.fspath(path)} is no longer {plan.video_size} bytes: start a new post",
                              next_chunk=upload.next_chunk)
        counter = _ProgressCounter(plan, upload.next_chunk, on_progress)

        def chunk_done(next_index: int) -> None:
            where[0] = next_index
            counter.confirmed(next_index)

        try:
            send_chunks(upload_session(self._session), upload.upload_url, path, plan, upload.mime_type,
                        start_chunk=upload.next_chunk, runtime=Runtime(sleep=self._sleep),
                        on_progress=counter.sent, on_chunk=chunk_done)
        except UploadError as stopped:
            raise UploadInterrupted(str(stopped), replace(upload, next_chunk=where[0]),
                                    transient=stopped.transient) from None
        return replace(upload, next_chunk=plan.total_chunk_count)

    def post_video_url(self, tokens: AccessToken, video_url: str, options: PostOptions | None = None, *,
                       to_inbox: bool = False) -> Upload:
        """Have TikTok pull a video from ``video_url`` (its domain verified for your app)."""
        token, options = _access(tokens), options or PostOptions()
        post_info = None if to_inbox else self._video_post_info(options, self.creator_info(token))
        started = self._posting.init_video(token, pull_source_info(video_url), post_info)
        return Upload(publish_id=started.publish_id, to_inbox=to_inbox, started_at=self._clock())

    def post_photos(self, tokens: AccessToken, photo_urls: Iterable[str], options: PostOptions | None = None, *,
                    cover_index: int = 0, to_inbox: bool = False) -> Upload:
        """A photo post (up to 35 images TikTok pulls from verified URLs), Direct Post or to the inbox."""
        token, options = _access(tokens), options or PostOptions()
        request = _request(options, photo_urls=tuple(photo_urls), photo_cover_index=cover_index, draft=to_inbox)
        caption = build_caption(options.caption, options.tags, request.caption_limit)
        creator = None if to_inbox else self.creator_info(token)
        privacy = None if creator is None else choose_privacy(options.privacy, None, creator)
        started = self._posting.init_photo(token, photo_body(request, creator, privacy, caption))
        return Upload(publish_id=started.publish_id, to_inbox=to_inbox, started_at=self._clock())

    def status(self, tokens: AccessToken, publish_id: str | Upload) -> PublishStatus:
        """Where the post stands now (``status``, ``fail_reason``, public post ids, TikTok's ``log_id``)."""
        return self._posting.status(_access(tokens), _publish_id(publish_id))

    def wait_for_post(self, tokens: AccessToken, publish_id: str | Upload, *, timeout_s: float = WAIT_TIMEOUT_S,
                      on_status: Callable[[PublishStatus], None] | None = None) -> PublishStatus:
        """Check the status until it ends (PUBLISH_COMPLETE, SEND_TO_USER_INBOX or FAILED) and return it.

        Pauses start at 2 s and grow by half each time to at most 15 s; a check that fails for a passing reason
        (rate limit, TikTok busy, no answer) is simply made again later. PostNotFinished after ``timeout_s``."""
        token, pid = _access(tokens), _publish_id(publish_id)
        started, pause, last = self._clock(), WAIT_FIRST_S, None
        while True:
            try:
                last = self._posting.status(token, pid)
            except TikTokError as exc:
                if not exc.transient:
                    raise
            else:
                if on_status is not None:
                    on_status(last)
                if last.terminal:
                    return last
            waited = self._clock() - started
            if waited + pause > timeout_s:
                raise PostNotFinished(pid, waited, last)
            self._sleep(pause)
            pause = min(pause * WAIT_GROWTH, WAIT_LONGEST_S)

    def _video_post_info(self, options: PostOptions, creator: CreatorInfo) -> dict[str, Any]:
        request = _request(options)
        caption = build_caption(options.caption, options.tags, request.caption_limit)
        return video_post_info(request, creator, choose_privacy(options.privacy, None, creator), caption)


class _ProgressCounter:
    """Bytes sent so far for ``on_progress``: confirmed chunks plus what the current one has read, never going back
    (a chunk sent again after a failure counts once)."""

    def __init__(self, plan: ChunkPlan, start_chunk: int, report: Progress | None) -> None:
        self._plan, self._report = plan, report
        self._base = self._start_of(start_chunk)
        self._inflight = 0
        self._shown = self._base

    def _start_of(self, index: int) -> int:
        return self._plan.video_size if index >= self._plan.total_chunk_count else self._plan.chunk(index).first_byte

    def sent(self, n: int) -> None:
        self._inflight += n
        end = self._start_of(self._index_at(self._base) + 1)
        self._show(min(self._base + self._inflight, end))

    def confirmed(self, next_index: int) -> None:
        self._base, self._inflight = self._start_of(next_index), 0
        self._show(self._base)

    def _index_at(self, byte: int) -> int:
        return min(byte // self._plan.chunk_size, self._plan.total_chunk_count - 1)

    def _show(self, value: int) -> None:
        if value > self._shown:
            self._shown = value
            if self._report is not None:
                self._report(self._shown, self._plan.video_size)


def _access(tokens: AccessToken) -> str:
    return tokens.access_token if isinstance(tokens, Tokens) else tokens


def _publish_id(publish_id: str | Upload) -> str:
    return publish_id.publish_id if isinstance(publish_id, Upload) else publish_id


def _account_with(account: Account, tokens: Tokens, now: float) -> Account:
    return replace(account, access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                   expires_at=tokens.expires_at, refresh_expires_at=tokens.refresh_expires_at,
                   scopes=tokens.scopes or account.scopes, refreshed_at=now, relink_reason="")


def _request(options: PostOptions, **media: Any) -> PostRequest:
    """The options as the engine's own request, so the API and the commands build bodies by the same rules."""
    return PostRequest(index=0, user_id="", description=options.caption, tags=options.tags,
                       privacy=options.privacy, disable_comment=not options.allow_comment,
                       disable_duet=not options.allow_duet, disable_stitch=not options.allow_stitch,
                       is_aigc=options.ai_generated, brand_content_toggle=options.branded_content,
                       brand_organic_toggle=options.your_brand,
                       video_cover_timestamp_ms=options.cover_timestamp_ms, title=options.title, **media)


__all__ = ["TikTokClient", "Tokens", "Login", "PostOptions", "Upload", "Video", "TokenKeeper",
           "UploadInterrupted", "PostNotFinished"]
