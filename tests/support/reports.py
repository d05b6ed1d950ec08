"""Run ``python -m tiktok report`` in-process against the emulator, with the day taken from the emulator's clock."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import requests

from tiktok.emulator.config import default_users
from tiktok.auth.oauth import OAuthClient
from tiktok.cli import main
from tiktok.commands import Context
from tiktok.report.daily import utc_day
from tiktok.auth.tokens import TokenStore
from tests.support.flows import link_account

ADA, BO, CY = (u.open_id for u in default_users())
USERNAMES = {u.open_id: u.username for u in default_users()}
ALL_SCOPES = ("user.info.basic", "user.info.profile", "user.info.stats", "video.list")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def line(self, needle: str) -> str:
        """The one stdout line mentioning ``needle``."""
        found = [line for line in self.out.splitlines() if needle in line]
        assert len(found) == 1, self.out
        return found[0]


@dataclass
class Reporter:
    """Links accounts and runs the report command with the emulator's clock as 'now'."""

    emulator: Any
    tokens_path: Path
    reports: Path
    capsys: Any
    sleeps: list[float] = field(default_factory=list)

    def link(self, open_id: str, scopes: tuple[str, ...] = ALL_SCOPES) -> None:
        oauth = OAuthClient(requests.Session(), api_base=self.emulator.url,
                            client_key=self.emulator.config.client_key,
                            client_secret=self.emulator.config.client_secret)
        link_account(self.emulator.url, self.store, oauth, open_id, scopes=scopes)

    @property
    def store(self) -> TokenStore:
        return TokenStore(self.tokens_path)

    def today(self) -> date:
        """The emulated day, which these tests treat as today."""
        return utc_day(self.emulator.state.now())

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        try:
            code = main(["report", "--reports", str(self.reports), *args],
                        context=Context(clock=self.emulator.state.now, sleep=self.sleeps.append))
        except SystemExit as exc:  # --help or an argparse error: argparse's code (0 or 2)
            code = int(exc.code or 0)
        captured = self.capsys.readouterr()
        return Result(int(code), captured.out, captured.err)

    def rows(self, day: date, name: str) -> list[dict[str, str]]:
        """A written CSV as rows of text."""
        data = (self.reports / day.isoformat() / name).read_bytes()
        return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def make_reporter(emulator, tokens_path: Path, tmp_path: Path, monkeypatch, capsys) -> Reporter:
    """A Reporter with the environment cron would give (no .env, no S3), pointing at the emulator.

    Test modules wrap it in a ``reporter`` fixture of their own."""
    monkeypatch.chdir(tmp_path)
    for name in ("REPORTS_DIR", "REPORTS_S3_URI", "AWS_ENDPOINT_URL_S3", "TIKTOK_SCOPES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIKTOK_CLIENT_KEY", emulator.config.client_key)
    monkeypatch.setenv("TIKTOK_CLIENT_SECRET", emulator.config.client_secret)
    monkeypatch.setenv("TIKTOK_API_BASE", emulator.url)
    monkeypatch.setenv("TOKENS_FILE", str(tokens_path))
    return Reporter(emulator=emulator, tokens_path=tokens_path, reports=tmp_path / "reports", capsys=capsys)
