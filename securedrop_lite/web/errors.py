"""Every error becomes a plain page: never a traceback, never a bare 500 from the server."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from flask import Flask, Response, render_template, request
from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

log = logging.getLogger("sdlite.web")

# How much of an oversized body is read and thrown away so the client sees the 413 page
# instead of a reset connection; beyond this the connection is simply closed.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
_DRAIN_CHUNK = 1024 * 1024

# Returns the title and the description an error page shows. The source app words them in
# the visitor's language; the ombuds app shows the exception's own English words.
Describe = Callable[[HTTPException], tuple[str, str]]


def own_words(error: HTTPException) -> tuple[str, str]:
    """Return Werkzeug's name of the status and the exception's own description."""
    return error.name, error.description or ""


def _drain_request_body() -> None:
    stream = request.environ.get("wsgi.input")
    if stream is None:
        return
    remaining = DRAIN_LIMIT_BYTES
    try:
        while remaining > 0:
            chunk = stream.read(min(_DRAIN_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
    except (OSError, ValueError, ParseException, NoMoreData):  # gunicorn's: bad chunking
        return


def error_page(error: HTTPException, describe: Describe = own_words) -> Response:
    code = error.code or 500
    if isinstance(error, RequestEntityTooLarge):
        _drain_request_body()
    title, description = describe(error)
    response = Response(
        render_template("error.html", code=code, title=title, description=description),
        status=code,
    )
    if code in (408, 413):  # the rest of the body will not be read
        response.headers["Connection"] = "close"
    return response


def unexpected_error(error: Exception, describe: Describe = own_words) -> Response:
    # Only the exception type goes to the log: its text might quote user input.
    log.error("unexpected error: %s", type(error).__name__)
    return error_page(InternalServerError(), describe)


def install(app: Flask, describe: Describe = own_words) -> None:
    """Render every error as error.html; calling it again replaces the wording."""
    app.register_error_handler(HTTPException, partial(error_page, describe=describe))
    app.register_error_handler(Exception, partial(unexpected_error, describe=describe))
