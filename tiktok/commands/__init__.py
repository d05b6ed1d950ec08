"""The commands: one module each, all in the one parser tree of :mod:`tiktok.cli`.

``python -m tiktok COMMAND`` runs any of them; ``upload_to_tiktok.py`` (post), ``transcribe.py`` (transcribe) and
``app.py`` (app) each run one. A command module is light to import (argparse and constants), because the tree is
built from every module and ``--help`` must stay quick. Each has:

- a docstring: its first line is the command's one-line help in the list of commands, the rest its description;
- ``add_parser(subparsers, parents)``, which adds the command's parser (:func:`tiktok.options.command_parser`) and
  options; an option that stands for a setting names its environment variable once, in
  :func:`tiktok.options.setting`, and reaches the command as that setting;
- ``run(opts, ctx) -> int``, the exit status: it imports what it needs inside, turns the options into the
  library's own values (the argparse namespace goes no further) and lets typed errors (:mod:`tiktok.errors`) rise:
  :func:`tiktok.cli.run_command` turns each into one line and its exit code, the same for every command;
- ``OWN_SIGNALS = True`` when it handles Ctrl-C and SIGTERM itself; any other command is stopped by them with a
  line and 130 / 143.

Only :mod:`tiktok.cli` imports these modules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # typing's, without loading typing: every command's --help imports this module
if TYPE_CHECKING:
    from typing import TextIO

    from tiktok.config import Settings
    from tiktok.services import Services


class Context:
    """What a command runs with besides its options: the settings (read once, on first use, with the settings its
    options stand for), the services built from them once, and the clock and sleep (tests inject them)."""

    def __init__(self, *, env: Mapping[str, str] | None = None, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.env = env  # None: .env and the process environment
        self.clock = clock or time.time  # the machine's: stores, leases, expiry
        self._world: Callable[[], float] | None = clock  # None: tiktok.clock.clock_for(settings), on first use
        self.sleep = sleep
        self.overrides: dict[str, str] = {}  # settings given as options (tiktok.options.setting)
        self.errors: TextIO | None = None  # where the line of a typed error goes; None: stderr
        self._settings: Settings | None = None
        self._services: Services | None = None

    @property
    def settings(self) -> Settings:
        """The settings, read and checked on first use (a bad one is a ConfigError: exit 2)."""
        if self._settings is None:
            from tiktok.config import load_settings, read_environment

            env = read_environment() if self.env is None else self.env
            self._settings = load_settings({**env, **self.overrides})
        return self._settings

    @property
    def world_clock(self) -> Callable[[], float]:
        """The time of the world the command talks to, for the report's day and the schedule: the one injected,
        else the emulator's in emulated mode and the machine's in real mode (:func:`tiktok.clock.clock_for`; reading
        it reads the settings). Leases and expiry keep :attr:`clock`: a jump of the emulator must not end them."""
        if self._world is None:
            from tiktok.clock import clock_for

            self._world = clock_for(self.settings)
        return self._world

    @property
    def services(self) -> Services:
        """The API and OAuth clients and the token store, built once from the settings."""
        if self._services is None:
            from tiktok.services import build_services

            self._services = build_services(self.settings)
        return self._services

    @property
    def prefix(self) -> str:
        """``[emulator] `` before every line in emulated mode (once the settings are read), else nothing."""
        return "[emulator] " if self._settings is not None and self._settings.tiktok.emulated else ""
