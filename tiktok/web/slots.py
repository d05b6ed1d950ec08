"""``/slots/``: each account's posting slots (set, shown, its next free slot) and the calendar feed's address
(made, shown once, revoked); and the composer's "Add to next free slot" (:func:`into_next_slot`). Issue 27 items 3
and 4; the rules are :mod:`tiktok.posting.slots`' and :mod:`tiktok.web.calendar_feed`'s.

A new feed address is shown on the page that answers the form and nowhere else: not in a flash message (those ride
in the session cookie) and not in a redirect (it would sit in the browser's history).
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for

from tiktok.errors import StoreError
from tiktok.posting.composition import FieldError
from tiktok.posting.slots import DAILY_CAP, account_free_slots, parse, zone_named
from tiktok.text import local_zone, zone_name
from tiktok.web.calendar_feed import feed_path, new_feed_token, revoke_feed_token
from tiktok.web.post_store import post_store, time_html
from tiktok.web.views import check_csrf, services

bp = Blueprint("slots", __name__, url_prefix="/slots")


def register(app: Flask) -> None:
    app.register_blueprint(bp)


def _now() -> float:
    return current_app.config["WORLD_CLOCK"]()  # emulated: the emulator's now (tiktok.clock)


def next_free(open_id: str) -> float:
    """The account's next free slot from now; ValueError when it has none (no slots, or none within the
    horizon)."""
    found = account_free_slots(post_store(), open_id, now=_now(), default_zone=local_zone())
    if not found:
        raise ValueError("has no free slot in the next two years: every slot is taken or its day is full")
    return found[0]


def into_next_slot(form, open_id: str):
    """(the form scheduled at the account's next free slot, None), or (the form, the FieldError saying why not)."""
    try:
        at = next_free(open_id)
    except ValueError as exc:
        return form, FieldError("post_at_local", f"this account {exc} (set them on the Slots page)")
    fields = form.copy()
    for name, value in (("action", "schedule"), ("zone", "UTC"), ("offset", ""),
                        ("post_at_local", datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))):
        fields[name] = value  # replaces (a MultiDict's update would add a second value)
    return fields, None


def _rows() -> list[dict]:
    store = post_store()
    rows = []
    for account in sorted(services().store.load().values(), key=lambda a: a.label):
        kept = store.account_slots(account.open_id) or {}
        row = {"open_id": account.open_id, "name": account.label, "slots": kept.get("slots", ""),
               "zone": kept.get("zone", ""), "next": None, "problem": None}
        if kept:
            try:
                row["next"] = time_html(next_free(account.open_id))
            except ValueError as exc:
                row["problem"] = f"{account.label} {exc}"
        rows.append(row)
    return rows


def _page(status: int = 200, *, address: str | None = None):
    return render_template("slots.html", rows=_rows(), cap=DAILY_CAP, feed_on=post_store().feed_token_digest()
                           is not None, address=address, zone=zone_name(local_zone())), status


@bp.get("/")
def index():
    return _page()


@bp.post("/<open_id>")
def save(open_id: str):
    check_csrf()
    accounts = services().store.load()
    if open_id not in accounts:
        flash(f"No connected account has open_id {open_id}; nothing was changed.", "error")
        return redirect(url_for("slots.index"))
    name, text, zone = accounts[open_id].label, request.form.get("slots", "").strip(), \
        request.form.get("zone", "").strip()
    try:
        slots = parse(text) if text else None
        if zone:
            zone_named(zone)
    except ValueError as exc:
        flash(f"{name}: {exc}; nothing was changed.", "error")
        return redirect(url_for("slots.index"))
    try:
        post_store().set_account_slots(open_id, slots.text() if slots else None, zone)
    except StoreError as exc:
        flash(f"{name}: {exc}", "error")
        return redirect(url_for("slots.index"))
    flash(f"{name}: posting slots set to {slots.text()}." if slots else f"{name}: posting slots removed.", "ok")
    return redirect(url_for("slots.index"))


@bp.post("/feed")
def feed():
    check_csrf()
    store = post_store()
    if request.form.get("action") == "revoke":
        revoke_feed_token(store)
        flash("The calendar feed is revoked: its address now answers 404.", "ok")
        return redirect(url_for("slots.index"))
    token = new_feed_token(store)
    return _page(address=request.host_url.rstrip("/") + feed_path(token))
