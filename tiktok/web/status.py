"""``/status/`` (the status page) and ``/metrics`` (the same figures for Prometheus), both from
:func:`tiktok.store.health.gather`: queue age, posts in flight, failures and TikTok's 429s in the last day, each
account's last token refresh, the last report and, with DATABASE_URL, the workers and their heartbeats.

``/metrics`` is Prometheus's text format from a :class:`~prometheus_client.CollectorRegistry` of this app's own,
whose one collector gathers the figures at scrape time (nothing is kept between scrapes). When APP_PASSWORD is set it
answers only with the password: a signed-in browser, or HTTP basic auth whose password is APP_PASSWORD (any user
name), which is how Prometheus's ``basic_auth`` sends it. Wrong passwords count against the same per-address
throttle as the sign-in page. Without credentials it answers 401 with ``WWW-Authenticate: Basic``, never the
sign-in page, so a scraper sees a refusal rather than HTML.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

from flask import Blueprint, Flask, Response, current_app, render_template, request, session
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from tiktok.store.health import Figures, gather
from tiktok.text import count, duration, relative
from tiktok.web.post_store import store_of, time_html

bp = Blueprint("status", __name__)
REGISTRY = "tiktok_metrics"  # app.extensions: this app's CollectorRegistry
REALM = "tiktok metrics"


def register(app: Flask) -> None:
    """Add ``/status/`` and ``/metrics`` (the latter's own registry, collected at every scrape)."""
    registry = CollectorRegistry(auto_describe=False)  # no collect at registration: the store may not be up yet
    registry.register(FiguresCollector(lambda: figures_of(app)))
    app.extensions[REGISTRY] = registry
    app.register_blueprint(bp)


def figures_of(app: Flask) -> Figures:
    """The figures now, by the app's clock, from its post store and token store."""
    services = app.extensions["tiktok_services"]
    return gather(services.settings, store_of(app), services.store, now=app.config["CLOCK"]())


@bp.get("/status/")
def index():
    figures = figures_of(current_app)
    return render_template("status.html", f=figures, problems=[text for _, text in figures.problems],
                           time_html=time_html, duration=duration, count=count, relative=relative)


@bp.get("/metrics")
def metrics():
    refusal = scraper_refusal()
    if refusal is not None:
        return refusal
    body = generate_latest(current_app.extensions[REGISTRY])
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


def scraper_refusal() -> Response | None:
    """None when this request may read ``/metrics`` (no APP_PASSWORD, a signed-in browser, or basic auth with the
    password); else the answer: 401 asking for basic auth, or 429 while the address has sent too many wrong ones."""
    from tiktok.web.security import address_of, current_settings, gate

    if not current_settings().app_password:
        return None
    password_gate = gate()
    if password_gate.sign_ins.is_open(session.get("sign_in")):
        return None
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.password:
        return _unauthorized("The metrics need the app's password (APP_PASSWORD) as HTTP basic auth.")
    address = address_of(request.remote_addr)
    wait = password_gate.throttle.admit(address)
    if wait > 0:  # not even looked at, as on the sign-in page
        return Response("Too many wrong passwords from this address; try again later.\n", 429,
                        {"Retry-After": str(math.ceil(wait)), "Content-Type": "text/plain; charset=utf-8"})
    if not password_gate.matches(auth.password):
        return _unauthorized("That is not the app's password (APP_PASSWORD).")
    password_gate.throttle.succeeded(address)
    return None


def _unauthorized(text: str) -> Response:
    return Response(text + "\n", 401, {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"',
                                       "Content-Type": "text/plain; charset=utf-8"})


class FiguresCollector:
    """Prometheus metrics made from :class:`~tiktok.store.health.Figures`, gathered when scraped. Instants are Unix
    seconds (``*_timestamp_seconds``), as Prometheus's own ``time()`` is."""

    def __init__(self, figures: Callable[[], Figures]) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        f = self.figures()
        yield _gauge("tiktok_status_healthy", "1 when python -m tiktok status would exit 0, else 0",
                     1 if f.healthy else 0)
        yield _gauge("tiktok_status_exit_code", "The exit code python -m tiktok status gives now",
                     int(f.exit_status))
        yield _gauge("tiktok_queue_age_seconds", "How long the oldest due, not-started post has waited (0: none "
                     "waits)", f.queue_age_s or 0.0)
        yield _gauge("tiktok_posts_due", "Posts due and not started yet (within POST_GRACE)", f.due)
        yield _gauge("tiktok_posts_in_flight", "Posts started and not ended: init sent, uploading or processing",
                     f.in_flight)
        yield _gauge("tiktok_posts_failed_last_day", "Posts on the Failed list that changed in the last 24 hours",
                     f.failed_last_day)
        yield _gauge("tiktok_posts_missed_last_day", "Posts that missed their time in the last 24 hours",
                     f.missed_last_day)
        yield _gauge("tiktok_rate_limited_last_day", "TikTok's 429 (rate_limit_exceeded) answers in the last 24 "
                     "hours, counted by the hour, all processes", f.rate_limited_last_day)
        yield CounterMetricFamily("tiktok_rate_limited", "TikTok's 429 (rate_limit_exceeded) answers, all processes",
                                  value=f.rate_limited_total)
        refreshed = GaugeMetricFamily("tiktok_token_refreshed_timestamp_seconds",
                                      "When each account's tokens were last refreshed", labels=["open_id", "name"])
        relink = GaugeMetricFamily("tiktok_account_relink_needed", "1 when the account must be linked again",
                                   labels=["open_id", "name"])
        for account in f.accounts:
            if account.refreshed_at is not None:
                refreshed.add_metric([account.open_id, account.name], account.refreshed_at)
            relink.add_metric([account.open_id, account.name], 1 if account.relink_needed else 0)
        yield refreshed
        yield relink
        if f.report is not None:
            yield _gauge("tiktok_report_written_timestamp_seconds", "When the newest daily report file was written",
                         f.report.written_at)
        if f.workers is not None:
            yield _gauge("tiktok_workers_alive", "Workers heard from within WORKER_STALLED_S",
                         sum(1 for w in f.workers if w.alive))
            beat = GaugeMetricFamily("tiktok_worker_heartbeat_timestamp_seconds", "Each worker's last heartbeat",
                                     labels=["id", "name"])
            alive = GaugeMetricFamily("tiktok_worker_alive", "1 while the worker is heard from within "
                                      "WORKER_STALLED_S", labels=["id", "name"])
            for w in f.workers:
                beat.add_metric([str(w.id), w.name], w.last_heartbeat)
                alive.add_metric([str(w.id), w.name], 1 if w.alive else 0)
            yield beat
            yield alive


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
