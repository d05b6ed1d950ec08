"""Run an emulator on a loopback port in a background thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import Flask

from .serving import RunningServer, serve_in_thread
from .app import create_emulator
from .config import EmulatorConfig
from .envelope import EXTENSION_KEY
from .state import EmulatorState


@dataclass
class EmulatorServer:
    """A running emulator: ``url`` (no trailing slash), ``state``, ``config``, ``app``."""

    app: Flask
    running: RunningServer

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def state(self) -> EmulatorState:
        return self.app.extensions[EXTENSION_KEY]

    @property
    def config(self) -> EmulatorConfig:
        return self.state.config

    def reset(self, config: EmulatorConfig | None = None, *,
              time_fn: Callable[[], float] | None = None) -> EmulatorState:
        """Start over with fresh state (codes, tokens, faults, clock), optionally a new config; keeps serving.

        ``time_fn`` replaces the real time under the emulator clock (tests pass a frozen one).
        """
        state = EmulatorState(config or self.config, **({"time_fn": time_fn} if time_fn else {}))
        self.app.extensions[EXTENSION_KEY] = state
        return state

    def shutdown(self) -> None:
        self.running.shutdown()

    def __enter__(self) -> "EmulatorServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def start_emulator(config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    """Serve a new emulator on ``host:port`` (0 picks a free port) and return once it accepts connections."""
    app = create_emulator(config)
    return EmulatorServer(app=app, running=serve_in_thread(app, host=host, port=port))
