"""Every answer of a blueprint the page's scripts call (uploads, fixes) is JSON, errors included.

A script reads ``{"error": "..."}`` and shows the sentence; the app's own HTML error pages would reach it as a
page it cannot read. :func:`answer_in_json` registers, on one blueprint: each HTTP error by its code (Flask looks
for handlers by code before by class, so the app's 404 and 500 pages would be found first otherwise); a token file,
database or store that cannot be used, as 503 with its plain sentence; anything unexpected, logged with its
traceback and answered 500 with a sentence that names no code or data.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from werkzeug.exceptions import HTTPException, default_exceptions

from tiktok.errors import DatabaseError, StoreError, TokenFileError

log = logging.getLogger(__name__)


def http_error(exc: HTTPException):
    return jsonify({"error": exc.description}), exc.code


def answer_in_json(bp: Blueprint, unfinished: str) -> None:
    """Make every error of ``bp`` a JSON answer; ``unfinished`` ends the unexpected error's sentence (what did not
    happen, e.g. "the video was not fixed")."""
    for code in default_exceptions:
        bp.register_error_handler(code, http_error)

    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        if isinstance(exc, (TokenFileError, DatabaseError, StoreError)):  # plain sentences naming the file or store
            return jsonify({"error": f"{exc}. Nothing was changed; try again once it is fixed."}), 503
        log.exception("%s: a request failed", bp.name)
        return jsonify({"error": f"The app hit an error it did not expect, and {unfinished}. The details are in "
                                 "the app's log; try again."}), 500

    bp.register_error_handler(Exception, unexpected)
