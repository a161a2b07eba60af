"""Every error becomes a plain page: never a traceback, never a bare 500 from the server."""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

log = logging.getLogger("sdlite.web")

# How much of an oversized body is read and thrown away so the client sees the 413 page
# instead of a reset connection; beyond this the connection is simply closed.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
_DRAIN_CHUNK = 1024 * 1024


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
    except (OSError, ValueError):
        return


def error_page(error: HTTPException) -> Response:
    code = error.code or 500
    if isinstance(error, RequestEntityTooLarge):
        _drain_request_body()
    response = Response(
        render_template("error.html", code=code, title=error.name, description=error.description),
        status=code,
    )
    if code in (408, 413):  # the rest of the body will not be read
        response.headers["Connection"] = "close"
    return response


def unexpected_error(error: Exception) -> Response:
    # Only the exception type goes to the log: its text might quote user input.
    log.error("unexpected error: %s", type(error).__name__)
    return error_page(InternalServerError())


def install(app: Flask) -> None:
    app.register_error_handler(HTTPException, error_page)
    app.register_error_handler(Exception, unexpected_error)
