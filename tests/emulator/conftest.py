"""Fixtures for the TikTok emulator tests: running emulators over real loopback HTTP."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest
from tests.emulator.emulator_helpers import OAuthWalker

from tiktok.emulator import EmulatorConfig, EmulatorRemote, EmulatorServer, start_emulator


FROZEN_EPOCH = 1_795_000_000.0  # 2026-11-18, seconds


@pytest.fixture(scope="session")
def _running_emulator() -> Iterator[EmulatorServer]:
    # one server for the whole run: starting is cheap but shutting down waits out werkzeug's 0.5 s poll
    with start_emulator() as server:
        yield server


@pytest.fixture
def make_emulator(_running_emulator) -> Callable[..., EmulatorServer]:
    """The running emulator, reset to fresh state under a given config (EmulatorConfig keyword overrides)."""
    def make(config: EmulatorConfig | None = None, **changes) -> EmulatorServer:
        # a frozen base time: only advance_clock moves the emulator clock, so lifetimes are exact
        _running_emulator.reset(config or EmulatorConfig(**changes), time_fn=lambda: FROZEN_EPOCH)
        return _running_emulator

    return make


@pytest.fixture
def emulator(make_emulator) -> EmulatorServer:
    """The emulator with the default config and fresh state: its clock, tokens and faults are this test's alone."""
    return make_emulator()


@pytest.fixture
def walker(emulator) -> OAuthWalker:
    return OAuthWalker(emulator)


@pytest.fixture
def remote(emulator) -> EmulatorRemote:
    return EmulatorRemote(emulator.url)
