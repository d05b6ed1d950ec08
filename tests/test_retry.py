"""The one retry engine: its ladder of waits, the never-post-twice rule, giving up, and the shared pager."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from tiktok.errors import (
    AuthError, InvalidRequest, PostingRefused, RateLimited, RelinkNeeded, ScopeError, ServerError, TikTokError,
    TransportError,
)
from tiktok.pages import PAGE_SIZE, next_cursor, video_pages
from tiktok.retry import DISPLAY_RETRY, GaveUp, RetryPolicy, Runtime, call_with_retry, may_retry

PACKAGE = Path(__file__).resolve().parent.parent / "tiktok"
NO_JITTER = RetryPolicy(max_attempts=6, base_delay_s=1.0, max_delay_s=10.0, jitter=0.0)


@pytest.mark.parametrize("policy, attempt, retry_after, rate_limited, expected", [
    (NO_JITTER, 1, None, False, 1.0),
    (NO_JITTER, 2, None, False, 2.0),
    (NO_JITTER, 4, None, False, 8.0),
    (NO_JITTER, 5, None, False, 10.0),                       # capped at max_delay_s
    (NO_JITTER, 9, None, False, 10.0),
    (NO_JITTER, 3, 7.0, False, 7.0),                         # Retry-After wins over the ladder
    (NO_JITTER, 1, 0.5, True, 0.5),                          # ... and is never raised to the floor
    (RetryPolicy(jitter=0.0, rate_limit_floor_s=10.0), 1, None, True, 10.0),   # a 429 without Retry-After
    (RetryPolicy(jitter=0.0, rate_limit_floor_s=10.0), 1, None, False, 1.0),   # the floor is for 429s only
    (DISPLAY_RETRY.__class__(**{**DISPLAY_RETRY.__dict__, "jitter": 0.0}), 3, None, False, 8.0),
])
def test_retry_ladder(policy: RetryPolicy, attempt: int, retry_after: float | None, rate_limited: bool,
                      expected: float) -> None:
    assert policy.delay(attempt, retry_after, random.Random(1), rate_limited=rate_limited) == expected


def test_jitter_stays_within_its_fraction() -> None:
    policy = RetryPolicy(base_delay_s=4.0, jitter=0.25)
    rng = random.Random(5)
    waits = [policy.delay(1, None, rng) for _ in range(200)]
    assert all(3.0 <= w <= 5.0 for w in waits) and len(set(waits)) > 100


def _rate_limited(retry_after: float | None = None) -> RateLimited:
    return RateLimited("rate_limit_exceeded", http_status=429, retry_after=retry_after)


@pytest.mark.parametrize("error, idempotent, retried", [
    (_rate_limited(), True, True),
    (_rate_limited(), False, True),                  # 429: TikTok refused before doing anything, safe to resend
    (ServerError("internal_error", http_status=500), True, True),
    (ServerError("internal_error", http_status=500), False, False),   # the post may exist: never send it twice
    (TransportError("connection dropped"), True, True),
    (TransportError("connection dropped"), False, False),
    (AuthError("access_token_invalid", http_status=401), True, False),
    (ScopeError("scope_not_authorized", http_status=401), True, False),
    (InvalidRequest("invalid_param", http_status=400), True, False),
    (PostingRefused("spam_risk_too_many_posts", http_status=403), True, False),
    (RelinkNeeded("open-id", "refresh token expired"), True, False),
    (ValueError("a bug"), True, False),
])
def test_never_post_twice_rule(error: Exception, idempotent: bool, retried: bool) -> None:
    assert may_retry(error, idempotent=idempotent) is retried


class Script:
    """An action that raises the listed errors in turn, then returns "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors, self.calls = list(errors), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def runtime(policy: RetryPolicy = NO_JITTER) -> tuple[Runtime, list[float]]:
    waits: list[float] = []
    return Runtime(sleep=waits.append, rng=random.Random(2), policy=policy), waits


def test_transient_errors_are_waited_out() -> None:
    rt, waits = runtime()
    action = Script(ServerError("internal_error"), _rate_limited(3.0), TransportError("reset"))
    assert call_with_retry(action, rt) == "done"
    assert action.calls == 4 and waits == [1.0, 3.0, 4.0]


def test_non_idempotent_call_is_sent_once_after_a_5xx() -> None:
    rt, waits = runtime()
    action = Script(ServerError("internal_error"))
    with pytest.raises(ServerError):
        call_with_retry(action, rt, idempotent=False)
    assert action.calls == 1 and waits == []


def test_attempts_run_out_into_gave_up() -> None:
    rt, waits = runtime(RetryPolicy(max_attempts=3, jitter=0.0))
    last = ServerError("internal_error")
    action = Script(ServerError("internal_error"), ServerError("internal_error"), last)
    with pytest.raises(GaveUp) as caught:
        call_with_retry(action, rt)
    assert caught.value.last is last and caught.value.attempts == 3 and caught.value.transient
    assert waits == [1.0, 2.0]


def test_a_retry_after_over_the_limit_is_not_waited() -> None:
    rt, waits = runtime(RetryPolicy(max_retry_after_s=60.0))
    with pytest.raises(GaveUp) as caught:
        call_with_retry(Script(_rate_limited(3600.0)), rt)
    assert caught.value.wait_too_long == 3600.0 and waits == []
    assert "TikTok asked to wait 3600 s" in str(caught.value)


def test_a_caller_can_narrow_what_is_retried() -> None:
    rt, waits = runtime()
    with pytest.raises(ServerError):
        call_with_retry(Script(ServerError("internal_error")), rt, retryable=lambda exc: False)
    assert waits == []


# --- the shared video-list pager ---------------------------------------------------------------

def pages_of(*answers: dict) -> tuple[list[list[dict]], list[dict]]:
    bodies: list[dict] = []
    queue = list(answers)

    def fetch(body: dict) -> dict:
        bodies.append(body)
        return queue.pop(0)
    return list(video_pages(fetch)), bodies


def test_pager_follows_the_cursor_back_in_time() -> None:
    pages, bodies = pages_of({"videos": [{"id": "3"}], "cursor": 300, "has_more": True},
                             {"videos": [{"id": "2"}, "junk"], "cursor": 200, "has_more": True},
                             {"videos": [], "cursor": 100, "has_more": False})
    assert pages == [[{"id": "3"}], [{"id": "2"}], []]
    assert bodies == [{"max_count": PAGE_SIZE}, {"max_count": PAGE_SIZE, "cursor": 300},
                      {"max_count": PAGE_SIZE, "cursor": 200}]


@pytest.mark.parametrize("current, answered", [(None, None), (None, "12"), (None, True), (300, 300), (300, 400)])
def test_a_cursor_that_does_not_move_back_is_an_error(current: int | None, answered: object) -> None:
    with pytest.raises(ServerError, match="does not move back in time"):
        next_cursor(current, answered)


def test_pager_raises_instead_of_stopping_silently() -> None:
    with pytest.raises(ServerError, match="malformed_response"):
        pages_of({"videos": [{"id": "3"}], "cursor": 300, "has_more": True},
                 {"videos": [{"id": "3"}], "cursor": 300, "has_more": True})


def test_pager_is_bounded() -> None:
    cursor = iter(range(10**6, 0, -1))
    fetch = lambda body: {"videos": [], "cursor": next(cursor), "has_more": True}  # noqa: E731
    with pytest.raises(ServerError, match="after 3 pages"):
        list(video_pages(fetch, max_pages=3))


# --- written once --------------------------------------------------------------------------------

RETRY_LOOP = re.compile(r"for\s+\w*attempt\w*\s+in\s+range|while\s+attempt|attempt\s*\+=\s*1")


def client_sources() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text() for p in PACKAGE.rglob("*.py")
            if "emulator" not in p.parts}


def test_one_retry_loop_and_one_pager_in_the_client() -> None:
    sources = client_sources()
    loops = sorted(name for name, text in sources.items() if RETRY_LOOP.search(text))
    pagers = sorted(name for name, text in sources.items() if '"/v2/video/list/"' in text)
    assert loops == ["retry.py"]
    assert pagers == ["pages.py"]
    assert issubclass(GaveUp, TikTokError)
