"""How times, durations, sizes and counts read (tiktok/text.py): one table per helper."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tiktok.text import count, duration, moment, relative, size, utc_iso, utc_offset, zone_label

ROOT = Path(__file__).resolve().parents[1]
NOW = 1_796_000_000.0  # 2026-11-30 00:53:20 UTC
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("tz, text", [
    (timezone.utc, "2026-11-30 00:53 UTC"),
    (ZoneInfo("Etc/UTC"), "2026-11-30 00:53 UTC"),  # UTC by any name reads UTC
    (BERLIN, "2026-11-30 01:53 Europe/Berlin (UTC+01:00)"),
    (ZoneInfo("America/St_Johns"), "2026-11-29 21:23 America/St_Johns (UTC-03:30)"),
    (timezone(timedelta(hours=-5)), "2026-11-29 19:53 UTC-05:00"),  # a zone that is only an offset says it once
])
def test_a_moment_names_its_zone(tz, text):
    assert moment(NOW, tz) == text


def test_a_moment_follows_daylight_saving_and_can_carry_seconds():
    july = datetime(2026, 7, 3, 9, 0, 15, tzinfo=BERLIN).timestamp()
    assert moment(july, BERLIN) == "2026-07-03 09:00 Europe/Berlin (UTC+02:00)"
    assert moment(july, BERLIN, seconds=True) == "2026-07-03 09:00:15 Europe/Berlin (UTC+02:00)"
    assert zone_label(july, BERLIN) == "Europe/Berlin (UTC+02:00)" and zone_label(NOW, timezone.utc) == "UTC"


@pytest.mark.parametrize("tz, text", [("Europe/Berlin", "2026-11-30 01:53 Europe/Berlin (UTC+01:00)"),
                                      (":Asia/Kolkata", "2026-11-30 06:23 Asia/Kolkata (UTC+05:30)"),
                                      ("", None), ("Not/AZone", None)])  # None: the machine's /etc/localtime
def test_the_default_zone_is_the_machines_tz_setting(tz, text):
    """A fresh process, as a command starts: TZ names the person's zone, else /etc/localtime does."""
    if text is None:
        machine = ZoneInfo(os.path.realpath("/etc/localtime").split("/zoneinfo/", 1)[1])
        text = moment(NOW, machine)
    code = f"from tiktok.text import moment; print(moment({NOW}))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "TZ": tz},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == text


def test_an_instant_for_machines_is_utc_iso_to_the_second():
    assert utc_iso(NOW + 0.9) == "2026-11-30T00:53:20Z"
    assert datetime.fromisoformat(utc_iso(NOW)).timestamp() == NOW


@pytest.mark.parametrize("seconds, text", [
    (-5, "0 s"), (0, "0 s"), (0.9, "0 s"), (45, "45 s"), (59.9, "59 s"), (60, "1 min"), (12 * 60 + 59, "12 min"),
    (3600, "1 h"), (3 * 3600 + 5 * 60 + 30, "3 h 5 min"), (23 * 3600 + 59 * 60, "23 h 59 min"),
    (86400, "1 day"), (86400 + 4 * 3600 + 59, "1 day 4 h"), (12 * 86400 + 60, "12 days"), (365 * 86400, "365 days"),
])
def test_durations(seconds, text):
    assert duration(seconds) == text


def test_a_duration_read_back_from_a_time_text_is_not_cut_by_float_noise():
    assert duration(7199.9999996) == "2 h" and duration(7199.99) == "1 h 59 min"


def test_a_duration_in_one_unit_is_rounded_down():
    assert duration(3 * 3600 + 59 * 60, parts=1) == "3 h"
    assert duration(2 * 86400 + 23 * 3600, parts=1) == "2 days"


@pytest.mark.parametrize("delta, text", [(20, "now"), (-20, "just now"), (0, "now"), (90, "in 1 min"),
                                         (-7200, "2 h ago"), (-7199, "1 h ago"), (3 * 86400 + 5, "in 3 days"),
                                         (86400 + 3600, "in 1 day")])
def test_relative_times(delta, text):
    assert relative(NOW + delta, NOW) == text


@pytest.mark.parametrize("n, text", [
    (0, "0 bytes"), (1, "1 byte"), (999, "999 bytes"), (1000, "1.0 kB"), (4_240, "4.2 kB"), (999_999, "1.0 MB"),
    (10_000_000, "10 MB"), (300_000_000, "300 MB"), (4_000_000_000, "4.0 GB"), (12_345_000_000, "12 GB"),
    (2 * 10**15, "2000 TB"),
])
def test_sizes_in_decimal_units(n, text):
    assert size(n) == text


@pytest.mark.parametrize("n, noun, plural, text", [(1, "post", None, "1 post"), (0, "post", None, "0 posts"),
                                                   (1200, "post", None, "1,200 posts"),
                                                   (2, "entry", "entries", "2 entries")])
def test_counts(n, noun, plural, text):
    assert count(n, noun, plural) == text


def test_an_offset_has_a_colon():
    assert utc_offset(datetime(2026, 7, 3, tzinfo=BERLIN)) == "+02:00"
    assert utc_offset(datetime(2026, 7, 3)) == "+00:00"
