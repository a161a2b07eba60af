"""A Flask session interface over SessionStore: the cookie carries only the random token."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, Response, session
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import CallbackDict
from werkzeug.exceptions import ServiceUnavailable

from securedrop_lite.sessions import SessionStore, decode_token, encode_token

COOKIE_NAME = "sdl"
log = logging.getLogger("sdlite.web")


class SealedSession(CallbackDict[str, Any], SessionMixin):
    """Session data plus the token it is sealed under."""

    def __init__(self, data: dict[str, Any] | None, token: bytes | None) -> None:
        def on_update(_: Any) -> None:
            self.modified = True

        super().__init__(data or {}, on_update)
        self.token = token
        self.modified = False
        self.renew = False
        self.ended = False

    def regenerate(self) -> None:
        """Move the data to a fresh token at the next save (at login: no session fixation)."""
        self.renew = True
        self.modified = True

    def end(self) -> None:
        """Forget everything and delete the server-side row."""
        self.clear()
        self.ended = True


class SealedSessionInterface(SessionInterface):
    def __init__(self, store: SessionStore, cookie_name: str = COOKIE_NAME) -> None:
        self.store = store
        self.cookie_name = cookie_name

    def open_session(self, app: Flask, request: Request) -> SealedSession:
        token = decode_token(request.cookies.get(self.cookie_name, ""))
        if token is None:
            return SealedSession(None, None)
        data = self.store.load(token)
        if data is None:
            return SealedSession(None, None)
        return SealedSession(data, token)

    def _set_cookie(self, response: Response, token: bytes) -> None:
        response.set_cookie(
            self.cookie_name, encode_token(token), httponly=True, samesite="Strict", path="/"
        )

    def save_session(self, app: Flask, current: SessionMixin, response: Response) -> None:
        session = _sealed(current)
        try:
            self._save(session, response)
        except (SQLAlchemyError, OSError) as exc:
            # A full disk or a database that refuses writes: the page already made would
            # rely on a session that was not kept. Say so with the app's own 503 page,
            # instead of a 500 and a traceback from Flask's finalizing.
            log.error("session not saved: %s", type(exc).__name__)
            _become_unavailable(app, response)

    def _save(self, session: SealedSession, response: Response) -> None:
        if session.ended or (not session and session.token is not None and session.modified):
            if session.token is not None:
                self.store.end(session.token)
            response.delete_cookie(self.cookie_name, path="/", samesite="Strict", httponly=True)
            return
        if not session.modified or not session:
            return
        if session.renew and session.token is not None:
            self.store.end(session.token)
            session.token = None
            session.pop("_expires", None)  # a new session gets a new absolute lifetime
        if session.token is None:
            session.token = self.store.new_token()
        self.store.save(session.token, dict(session))
        self._set_cookie(response, session.token)


def _become_unavailable(app: Flask, response: Response) -> None:
    """Turn response, in place, into the app's 503 page; keep its security headers."""
    page = app.make_response(app.handle_http_exception(ServiceUnavailable()))
    response.status_code = page.status_code
    response.content_type = page.content_type
    response.set_data(page.get_data())
    response.direct_passthrough = False
    for header in ("Location", "Set-Cookie", "Content-Disposition"):
        response.headers.pop(header, None)
    response.headers["Cache-Control"] = "no-store"


def _sealed(current: object) -> SealedSession:
    if not isinstance(current, SealedSession):  # the apps install only SealedSessionInterface
        raise TypeError(f"expected a SealedSession, not {type(current).__name__}")
    return current


def sealed_session() -> SealedSession:
    """Return the current session as a SealedSession (the apps install only this interface)."""
    return _sealed(session)
