"""The Stats page: per connected account, followers and total views per day from the saved report CSVs, and the
latest day's top videos by daily views. Charts are inline SVG drawn here (no JavaScript, no network)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import Blueprint, Flask, current_app, render_template
from markupsafe import Markup, escape

from tiktok.config import Settings
from tiktok.report.history import AccountHistory, load_histories
from tiktok.auth.tokens import Account
from tiktok.web.views import services

bp = Blueprint("stats", __name__)

REPORT_COMMAND = ".venv/bin/python -m tiktok report"
CHART_W, CHART_H = 520, 160  # SVG user units (CSS scales the chart to the column width)
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 70, 16, 12, 26  # room for the value and date labels


def register(app: Flask, settings: Settings) -> None:
    """Add the Stats page, which reads the report's folder (REPORTS_DIR)."""
    app.config["REPORTS_DIR"] = str(settings.report.reports_dir)
    app.register_blueprint(bp)


@dataclass(frozen=True)
class Panel:
    """What the page shows for one account."""

    account: Account
    history: AccountHistory
    charts: tuple[tuple[str, Markup], ...]


@bp.get("/stats/")
def stats_page():
    root = Path(current_app.config["REPORTS_DIR"])
    accounts = sorted(services().store.load().values(), key=lambda a: a.label)
    histories = load_histories(root, [(a.open_id, a.username or None) for a in accounts])  # each day listed once
    panels = [account_panel(account, histories[account.open_id]) for account in accounts]
    return render_template("stats.html", panels=panels, reports_dir=root, command=REPORT_COMMAND)


def account_panel(account: Account, history: AccountHistory) -> Panel:
    charts: tuple[tuple[str, Markup], ...] = ()
    if history.has_history:
        charts = (("Followers", line_chart("followers", [(p.day, p.followers) for p in history.points])),
                  ("Total views", line_chart("total-views", [(p.day, p.total_views) for p in history.points])))
    return Panel(account=account, history=history, charts=charts)


def line_chart(series_id: str, points: Sequence[tuple[date, int | None]]) -> Markup:
    """An SVG line chart of daily values; a None value breaks the line; ``data-values`` lists day=value pairs."""
    known = [(day, value) for day, value in points if value is not None]
    values = ",".join(f"{day.isoformat()}={'' if value is None else value}" for day, value in points)
    head = (f'<svg class="chart" viewBox="0 0 {CHART_W} {CHART_H}" role="img" data-series="{escape(series_id)}" '
            f'data-values="{escape(values)}" aria-label="{escape(series_id)} per day">')
    if not known:
        return Markup(head + f'<text x="{CHART_W // 2}" y="{CHART_H // 2}" text-anchor="middle" class="chart-note">'
                             "no values saved</text></svg>")
    x_of, y_of = _scales(points, known)
    body = [_axes(points, known), *(_polyline(segment, x_of, y_of) for segment in _segments(points))]
    body += [f'<circle cx="{x_of(day):.1f}" cy="{y_of(value):.1f}" r="3"><title>{day.isoformat()}: {value:,}'
             "</title></circle>" for day, value in known]
    return Markup(head + "".join(body) + "</svg>")


def _scales(points, known):
    first, last = points[0][0], points[-1][0]
    span_days = max(1, (last - first).days)
    low, high = min(v for _, v in known), max(v for _, v in known)
    if low == high:  # a flat line sits in the middle
        low, high = low - 1, high + 1
    plot_w, plot_h = CHART_W - PAD_LEFT - PAD_RIGHT, CHART_H - PAD_TOP - PAD_BOTTOM

    def x_of(day: date) -> float:
        offset = (day - first).days / span_days if len(points) > 1 else 0.5
        return PAD_LEFT + offset * plot_w

    def y_of(value: int) -> float:
        return PAD_TOP + (high - value) / (high - low) * plot_h
    return x_of, y_of


def _segments(points: Sequence[tuple[date, int | None]]) -> list[list[tuple[date, int]]]:
    """Runs of consecutive known values."""
    runs: list[list[tuple[date, int]]] = [[]]
    for day, value in points:
        if value is None:
            runs.append([])
        else:
            runs[-1].append((day, value))
    return [run for run in runs if run]


def _polyline(segment, x_of, y_of) -> str:
    coords = " ".join(f"{x_of(day):.1f},{y_of(value):.1f}" for day, value in segment)
    return f'<polyline class="line" fill="none" points="{coords}"/>'


def _axes(points, known) -> str:
    low, high = min(v for _, v in known), max(v for _, v in known)
    bottom = CHART_H - PAD_BOTTOM
    labels = [(PAD_TOP + 10, f"{high:,}"), (bottom, f"{low:,}")] if high != low else [(CHART_H // 2, f"{high:,}")]
    parts = [f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{bottom}"/>',
             f'<line class="axis" x1="{PAD_LEFT}" y1="{bottom}" x2="{CHART_W - PAD_RIGHT}" y2="{bottom}"/>']
    parts += [f'<text class="tick" x="{PAD_LEFT - 6}" y="{y}" text-anchor="end">{text}</text>' for y, text in labels]
    parts.append(f'<text class="tick" x="{PAD_LEFT}" y="{CHART_H - 6}">{points[0][0].isoformat()}</text>')
    if len(points) > 1:
        parts.append(f'<text class="tick" x="{CHART_W - PAD_RIGHT}" y="{CHART_H - 6}" text-anchor="end">'
                     f"{points[-1][0].isoformat()}</text>")
    return "".join(parts)
