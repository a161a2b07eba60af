"""Error pages in the worker's language: our own errors by class, all others by status code.

The shared errors of securedrop_lite.web keep their English descriptions, which the ombuds
app shows as they are. Their translations are listed here, under the same English words
(a test checks that each one still matches its class word for word), because Babel finds
a message only where it is passed to gettext.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from flask_babel import lazy_gettext
from werkzeug.exceptions import (
    HTTPException,
    NotFound,
    RequestEntityTooLarge,
    ServiceUnavailable,
)

from securedrop_lite.services.items import StorageFailed
from securedrop_lite.services.replies import NoSuchReply
from securedrop_lite.services.submissions import UploadTooLarge
from securedrop_lite.web import errors
from securedrop_lite.web.forms import CsrfFailed, InvalidForm
from securedrop_lite.web.hosts import UnknownHost
from securedrop_lite.web.request import MalformedForm, UploadStalled
from source_interface.routes import ExtraFiles

# Werkzeug's names of the statuses, so that English pages keep their titles word for word.
TITLES = {
    400: lazy_gettext("Bad Request"),
    403: lazy_gettext("Forbidden"),
    404: lazy_gettext("Not Found"),
    405: lazy_gettext("Method Not Allowed"),
    408: lazy_gettext("Request Timeout"),
    413: lazy_gettext("Request Entity Too Large"),
    429: lazy_gettext("Too Many Requests"),
    500: lazy_gettext("Internal Server Error"),
    503: lazy_gettext("Service Unavailable"),
}
ANY_TITLE = lazy_gettext("Something went wrong")

# Our own errors, by exact class: each msgid is the class's English description.
DESCRIPTIONS: dict[type[HTTPException], Any] = {
    CsrfFailed: lazy_gettext(
        "This form has expired, or it did not come from this site. For your safety it was "
        "not sent. Please go back, reload the page, and send it again."
    ),
    InvalidForm: lazy_gettext(
        "Some fields of the form are missing or invalid. Please go back and check them."
    ),
    MalformedForm: lazy_gettext("The form could not be read. Please go back and send it again."),
    UploadStalled: lazy_gettext(
        "Nothing arrived for several minutes, so the upload was stopped and nothing of "
        "it was kept. Please send it again."
    ),
    UnknownHost: lazy_gettext("This site does not answer to that address."),
    ExtraFiles: lazy_gettext("Please send one file at a time, using the file field on the page."),
}

# Werkzeug's own descriptions are written for developers; these are written for workers.
DESCRIPTIONS_BY_CODE = {
    400: lazy_gettext(
        "This request could not be understood. Please go back, reload the page, and try again."
    ),
    403: lazy_gettext("This page is not open to visitors."),
    404: lazy_gettext(
        "There is nothing at this address. Please check it, or go to the start page."
    ),
    405: lazy_gettext(
        "This page cannot be opened this way. Please go back and use the links and buttons "
        "on the page."
    ),
    408: lazy_gettext(
        "Nothing arrived for too long, so the request was stopped. Please send it again."
    ),
    413: lazy_gettext(
        "What you sent is larger than this site accepts, and nothing of it was kept. Please "
        "send a smaller file, or split it into several parts."
    ),
    429: lazy_gettext("There were too many requests. Please wait a few minutes and try again."),
    500: lazy_gettext("Something went wrong on this site. Please try again later."),
    503: lazy_gettext("This site cannot answer right now. Please try again later."),
}
ANY_DESCRIPTION = lazy_gettext("This request could not be completed. Please try again later.")

NOTHING_STORED = lazy_gettext(
    "Your submission could not be stored, and nothing of it was kept. Please try again later."
)
NOTHING_HERE = lazy_gettext("There is nothing here, or it was deleted.")


def describe(error: HTTPException) -> tuple[str, str]:
    """Return the page's title and description, translated when the page is rendered."""
    code = error.code or 500
    title = TITLES.get(code, ANY_TITLE)
    if "description" in vars(error):  # raised with its own words: gettext translated them
        return title, error.description or ""
    if type(error) in DESCRIPTIONS:
        return title, DESCRIPTIONS[type(error)]
    return title, DESCRIPTIONS_BY_CODE.get(code, ANY_DESCRIPTION)


def page(error: HTTPException) -> Response:
    """Render an error page in the visitor's language."""
    return errors.error_page(error, describe)


def install(app: Flask) -> None:
    """Word every error page in the visitor's language; turn service errors into pages."""
    errors.install(app, describe)  # replaces the English-only handlers of base_app
    app.register_error_handler(UploadTooLarge, lambda _: page(RequestEntityTooLarge()))
    # Raised while the body is parsed (the upload streams into gpg) or by submit(): either
    # way nothing of the submission was kept, and one handler says so.
    app.register_error_handler(StorageFailed, lambda _: page(ServiceUnavailable(NOTHING_STORED)))
    app.register_error_handler(NoSuchReply, lambda _: page(NotFound(NOTHING_HERE)))
