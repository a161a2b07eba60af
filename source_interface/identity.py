"""The logged-in source, as the session carries it: derivations of the codename, never itself."""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import redirect, session, url_for

from securedrop_lite.services.sources import SourceIdentity, UnknownSource
from securedrop_lite.web.session import sealed_session


def encode(identity: SourceIdentity) -> dict[str, str]:
    return {
        "lookup_id": identity.lookup_id,
        "key_seed": base64.b64encode(identity.key_seed).decode(),
    }


def decode(data: Any) -> SourceIdentity | None:
    if not isinstance(data, dict):
        return None
    return SourceIdentity(data["lookup_id"], base64.b64decode(data["key_seed"]))


def require_source(view: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the logged-in source's identity to the view, or send the visitor to /login."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        identity = decode(session.get("source"))
        if identity is None:
            return redirect(url_for("main.login"))
        try:
            return view(identity, *args, **kwargs)
        except UnknownSource:
            sealed_session().end()
            return redirect(url_for("main.index"))

    return wrapped


def has_consented() -> bool:
    """Whether this visitor read the consent page in this session."""
    return session.get("consented") is True


def needs_consent(has_submitted: Callable[[], bool]) -> bool:
    """Before a first submission, a source must have read and accepted the consent page.

    has_submitted is asked only when this session holds no consent: a database read.
    """
    return not has_consented() and not has_submitted()
