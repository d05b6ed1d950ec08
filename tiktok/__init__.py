"""Log in with TikTok, keep tokens fresh, post, transcribe and report, from your own machine.

The public Python API is what ``__all__`` lists, documented in the README's "Use it from Python"; it follows
semantic versioning (CHANGELOG.md). Everything else in the package is private and may change in any release::

    from tiktok import PostOptions, TikTokClient

    client = TikTokClient(client_key, client_secret, "http://127.0.0.1:8765/callback/")
    login = client.start_login()              # send the person to login.url
    tokens = client.finish_login(redirected_to, login)
    upload = client.post_video_file(tokens, "clip.mp4", PostOptions(caption="Hello"))
    print(client.wait_for_post(tokens, upload).status)

The names load when first used (PEP 562), so the commands, which import ``tiktok.*`` modules of their own, do not
pay for the API at start-up. ``app.py``, ``upload_to_tiktok.py`` and ``transcribe.py`` are thin entry points to
the command tree in :mod:`tiktok.cli`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from tiktok.version import __version__

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ loads the same names
    from tiktok.auth.tokens import Account, TokenStore as TokenFile
    from tiktok.client import (
        Login, PostNotFinished, PostOptions, TikTokClient, TokenKeeper, Tokens, Upload, UploadInterrupted, Video,
    )
    from tiktok.errors import (
        AccountNotFound, APIError, AuthError, InvalidRequest, OAuthError, PostingRefused, RateLimited, RelinkNeeded,
        ScopeError, ServerError, TikTokError, TokenFileError, TransportError,
    )
    from tiktok.posting.caption import CaptionTooLong
    from tiktok.posting.chunks import ChunkPlan, ChunkPlanError
    from tiktok.posting.client import CreatorInfo, PrivacyNotOffered, PublishStatus
    from tiktok.posting.media import MediaError
    from tiktok.posting.transfer import UploadError

# public name -> (module, name there)
_EXPORTS: dict[str, tuple[str, str]] = {
    **{name: ("tiktok.client", name) for name in (
        "TikTokClient", "Tokens", "Login", "PostOptions", "Upload", "Video", "TokenKeeper", "UploadInterrupted",
        "PostNotFinished")},
    "TokenFile": ("tiktok.auth.tokens", "TokenStore"),
    "Account": ("tiktok.auth.tokens", "Account"),
    "CreatorInfo": ("tiktok.posting.client", "CreatorInfo"),
    "PublishStatus": ("tiktok.posting.client", "PublishStatus"),
    "PrivacyNotOffered": ("tiktok.posting.client", "PrivacyNotOffered"),
    "ChunkPlan": ("tiktok.posting.chunks", "ChunkPlan"),
    "ChunkPlanError": ("tiktok.posting.chunks", "ChunkPlanError"),
    "CaptionTooLong": ("tiktok.posting.caption", "CaptionTooLong"),
    "MediaError": ("tiktok.posting.media", "MediaError"),
    "UploadError": ("tiktok.posting.transfer", "UploadError"),
    **{name: ("tiktok.errors", name) for name in (
        "TikTokError", "OAuthError", "APIError", "AuthError", "ScopeError", "RateLimited", "InvalidRequest",
        "PostingRefused", "ServerError", "TransportError", "RelinkNeeded", "AccountNotFound", "TokenFileError")},
}

__all__ = [  # written out, so type checkers see it; tests/test_public_api.py checks it against _EXPORTS
    "__version__",
    "TikTokClient", "Tokens", "Login", "PostOptions", "Upload", "Video", "TokenKeeper", "UploadInterrupted",
    "PostNotFinished", "TokenFile", "Account", "CreatorInfo", "PublishStatus", "PrivacyNotOffered", "ChunkPlan",
    "ChunkPlanError", "CaptionTooLong", "MediaError", "UploadError",
    "TikTokError", "OAuthError", "APIError", "AuthError", "ScopeError", "RateLimited", "InvalidRequest",
    "PostingRefused", "ServerError", "TransportError", "RelinkNeeded", "AccountNotFound", "TokenFileError",
]


def __getattr__(name: str) -> Any:
    """Load a public name on first use and keep it (PEP 562)."""
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'tiktok' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
