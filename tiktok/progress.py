"""Byte progress bars for long transfers: drawn on stderr only when it is a terminal, silent under cron."""

from __future__ import annotations

import sys

from tqdm import tqdm


class ByteProgress:
    """One transfer's bar. Call it with a byte count (negative rewinds, e.g. a retried chunk), or use
    :meth:`update_to` with absolute figures."""

    def __init__(self, label: str, total: int | None = None) -> None:
        self._label = label
        self._total = total
        self._bar: tqdm | None = None

    def _ensure(self, total: int | None) -> tqdm:
        if self._bar is None:
            self._bar = tqdm(total=total if total is not None else self._total, desc=self._label, unit="B",
                             unit_scale=True, unit_divisor=1024, disable=None, leave=False, file=sys.stderr)
        return self._bar

    def __call__(self, n: int) -> None:
        self._ensure(None).update(n)

    def update_to(self, done: int, total: int | None = None) -> None:
        bar = self._ensure(total)
        bar.update(done - bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
