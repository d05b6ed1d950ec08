"""The one outcome vocabulary: its labels and how a run's outcomes fold into one exit code."""

from __future__ import annotations

import pytest

from tiktok.exitcodes import OUTCOMES, ExitStatus, exit_status, outcome_label, outcome_line


@pytest.mark.parametrize("outcome, label", [
    ("done", "DONE"), ("skipped", "SKIPPED"), ("failed", "FAILED"), ("try_later", "TRY LATER"),
    ("bad_input", "BAD INPUT"), ("relink", "RELINK"), ("scheduled", "SCHEDULED"),
])
def test_labels(outcome: str, label: str) -> None:
    assert outcome_label(outcome) == label


def test_every_outcome_has_a_label_and_nothing_else_does() -> None:
    assert len(OUTCOMES) == 7
    with pytest.raises(ValueError, match="unknown outcome 'posted'"):
        outcome_label("posted")


@pytest.mark.parametrize("outcomes, code", [
    ([], ExitStatus.OK),
    (["done", "skipped", "scheduled"], ExitStatus.OK),
    (["done", "try_later"], ExitStatus.TRY_LATER),
    (["try_later", "failed"], ExitStatus.FAILED),
    (["failed", "bad_input"], ExitStatus.BAD_INPUT),
    (["bad_input", "relink", "try_later"], ExitStatus.RELINK_NEEDED),
])
def test_exit_status(outcomes: list[str], code: ExitStatus) -> None:
    assert exit_status(outcomes) == code


def test_lines_line_up() -> None:
    lines = [outcome_line(o, "acct", "x") for o in ("done", "try_later", "bad_input")]
    assert {line.index("acct") for line in lines} == {10}
