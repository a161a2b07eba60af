"""Form checks shared by both apps: a failed CSRF check says why, in plain words."""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import BadRequest


class CsrfFailed(BadRequest):
    description = (
        "This form has expired, or it did not come from this site. For your safety it was "
        "not sent. Please go back, reload the page, and send it again."
    )


class InvalidForm(BadRequest):
    description = "Some fields of the form are missing or invalid. Please go back and check them."


def require_valid(form: Any) -> None:
    """Raise a 400 page unless the Flask-WTF form validates, its CSRF token included."""
    if not form.validate():
        if form.csrf_token.errors:
            raise CsrfFailed
        raise InvalidForm
