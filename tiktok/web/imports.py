"""The Import page (``/import/``, issue 27 item 2): upload a CSV (or a videos_to_upload.json), see every row checked
with its errors, then confirm to save the good rows.

The checks and the saving are :mod:`tiktok.posting.csvimport`'s, the same as ``python -m tiktok import``'s. Checking
saves nothing. The confirm form carries the file's bytes back (base64, so not one byte changes and the rows keep
their keys); they are checked again before saving, since accounts and the store may have changed meanwhile. An
uploaded file has no folder, so a local media path in it must be absolute.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from flask import Blueprint, Flask, current_app, render_template, request

from tiktok.errors import FileProblem
from tiktok.posting.csvimport import Lookup, check_file, open_checks, save
from tiktok.web.post_store import post_store
from tiktok.web.views import check_csrf, page_error, services

bp = Blueprint("imports", __name__, url_prefix="/import")
MAX_FILE_BYTES = 5 * 1024 * 1024  # 5 MB: some 20,000 rows of a CSV; a bigger file goes through the CLI


@bp.get("/")
def index():
    return render_template("import.html", plan=None)


@bp.post("/check")
def check():
    check_csrf()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return page_error("No file chosen", "Choose a .csv or .json file to import, then press Check.", 400)
    raw = upload.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        return page_error("The file is too big", f"The Import page takes files up to {MAX_FILE_BYTES // 2**20} MB; "
                                                 "import a bigger one with python -m tiktok import FILE.", 413)
    return _checked(Path(upload.filename).name, raw, saved=None)


@bp.post("/save")
def confirm():
    check_csrf()
    name = Path(request.form.get("name", "")).name or "upload.csv"
    try:
        raw = base64.b64decode(request.form.get("data", ""), validate=True)
    except (binascii.Error, ValueError):
        return page_error("The form is damaged", "Upload the file again and press Check.", 400)
    return _checked(name, raw, saved=True)


def _checked(name: str, raw: bytes, *, saved: bool | None):
    settings = services().settings
    now = current_app.config["WORLD_CLOCK"]()  # emulated: the emulator's now (tiktok.clock)
    checks = open_checks(settings, now)
    try:
        plan = check_file(name, raw, Lookup(checks), folder=None, now=now)
    except FileProblem as exc:
        return page_error("The file cannot be imported", f"{exc}. Nothing was saved.", 400)
    finally:
        checks.close()
    result = save(post_store(), plan) if saved else None
    return render_template("import.html", plan=plan, counts=plan.counts(), result=result,
                           data=base64.b64encode(raw).decode("ascii"))


def register(app: Flask) -> None:
    app.register_blueprint(bp)
