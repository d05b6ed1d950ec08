"""Ctrl-C and SIGTERM: held over a step that must not be cut in half, and turned into a clean stop for commands.

TikTok rotates a refresh token as it answers: the old one is dead at TikTok before this process has written the new
one. A SIGINT or SIGTERM in between would lose the account, so a token refresh runs inside a :class:`Hold`: from
:meth:`Hold.start` (just before the call) until the outermost open ``Hold`` ends (after the write), those signals
wait, and are then delivered as if they had just arrived. Holds nest: an inner one ending inside an outer one leaves
what it holds to the outer one, so a caller can first report what was done.

Only the main thread receives Python signal handlers and may install them (``signal.signal``). Anywhere else (the
app's request threads, the workers' job threads) a Hold does nothing, and signals go to whatever handles them
there. SIGKILL reaches no handler: nothing can hold it.

:func:`stop_on_signals` makes a command's SIGINT and SIGTERM raise :class:`Interrupted`, so it can say what it did
and exit with ``128 + signal number`` (130, 143), the shell's convention, instead of a traceback.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_open: list["Hold"] = []          # Holds open in the main thread, outermost first
_saved: dict[int, Any] = {}       # the handlers a started Hold replaced, to put back at the end
_pending: list[int] = []          # signals that arrived while held, in order
_state = {"holding": False, "note": ""}  # the note is said once on stderr when a held signal arrives


class Interrupted(BaseException):
    """SIGINT or SIGTERM stopped a command (a BaseException, like KeyboardInterrupt: ``except Exception`` lets it
    through)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.name = signal.Signals(signum).name
        super().__init__(f"stopped by {self.name}")

    @property
    def exit_code(self) -> int:
        """128 + the signal's number: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


_elsewhere = threading.Condition()  # Holds started in other threads: a server waits for them before it exits
_elsewhere_count = [0]


def wait_for_holds(timeout_s: float) -> bool:
    """Wait (at most ``timeout_s``) until no Hold started in another thread is open: a server that is stopping lets
    its request threads finish a token refresh before the process ends. True when none is left."""
    with _elsewhere:
        return _elsewhere.wait_for(lambda: _elsewhere_count[0] == 0, timeout=timeout_s)


class Hold:
    """``with Hold() as hold: ... hold.start(note) ...``: SIGINT and SIGTERM wait from ``start`` until the outermost
    Hold ends, then are delivered. ``note`` (already safe to print) is written to stderr when one arrives. In
    another thread a started Hold is counted instead, for :func:`wait_for_holds`."""

    _counted = False

    def __enter__(self) -> "Hold":
        if in_main_thread():
            _open.append(self)
        return self

    def start(self, note: str = "") -> None:
        if not any(hold is self for hold in _open):
            if not in_main_thread() and not self._counted:  # Python gives signals to the main thread only
                with _elsewhere:
                    _elsewhere_count[0] += 1
                self._counted = True
            return
        _state.update(holding=True, note=note)
        for signum in HELD_SIGNALS:
            current = signal.getsignal(signum)
            if current is _held or current is None:  # ours already, or installed outside Python: leave it
                continue
            _saved[signum] = current
            signal.signal(signum, _held)

    def __exit__(self, *exc: object) -> None:
        if self._counted:
            with _elsewhere:
                _elsewhere_count[0] -= 1
                _elsewhere.notify_all()
            self._counted = False
        if not _open or _open[-1] is not self:
            return
        _open.pop()
        if not _open:
            _release()


def _held(signum: int, frame: object) -> None:
    if not _state["holding"]:  # caught between a release's steps: deliver it now
        _deliver(signum, frame)
        return
    _pending.append(signum)
    if _state["note"] and len(_pending) == 1:
        try:  # os.write, not print: a handler may run in the middle of another write to sys.stderr
            os.write(2, f"{signal.Signals(signum).name} received: {_state['note']}\n".encode("utf-8", "replace"))
        except OSError:
            pass


def _deliver(signum: int, frame: object) -> None:
    """What the replaced handler would have done with ``signum``."""
    previous = _saved.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        _saved.pop(signum, None)
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)


def _release() -> None:
    """Put the replaced handlers back, then deliver what was held, as if it arrived now."""
    if not _saved and not _state["holding"]:
        return  # never started: nothing to put back
    with _blocked():  # nothing may arrive between putting back SIGINT's handler and SIGTERM's
        _state.update(holding=False, note="")
        pending = list(dict.fromkeys(_pending))
        _pending.clear()
        for signum in list(_saved):
            signal.signal(signum, _saved.pop(signum))
    for signum in pending:
        signal.raise_signal(signum)  # the restored handler runs: Interrupted, KeyboardInterrupt, or the default


@contextmanager
def _blocked() -> Iterator[None]:
    """SIGINT and SIGTERM blocked for this thread (where the platform can), then unblocked: what arrived meanwhile
    is delivered as the block ends."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is not None:
        mask(signal.SIG_BLOCK, HELD_SIGNALS)
    try:
        yield
    finally:
        if mask is not None:
            mask(signal.SIG_UNBLOCK, HELD_SIGNALS)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` inside the block (main thread only; elsewhere nothing
    changes); the previous handlers come back after it."""
    if not in_main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in HELD_SIGNALS}

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    for signum in HELD_SIGNALS:
        signal.signal(signum, interrupt)
    try:
        yield
    finally:
        with _blocked():
            for signum, handler in previous.items():
                if handler is not None:
                    signal.signal(signum, handler)
