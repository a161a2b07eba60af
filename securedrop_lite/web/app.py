"""What both apps share: the request class, sealed sessions, security headers, error pages."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Request, request
from werkzeug.exceptions import BadHost
from werkzeug.routing import MapAdapter

from securedrop_lite.config import Config
from securedrop_lite.sessions import SessionStore
from securedrop_lite.web import errors, headers, hosts
from securedrop_lite.web.request import READ_CHUNK_BYTES, MalformedForm, SecureRequest
from securedrop_lite.web.session import SealedSessionInterface

# Room in a request body for the multipart framing and the other fields.
_FORM_OVERHEAD_BYTES = 64 * 1024


def message_form_bytes(config: Config) -> int:
    """Return the largest body of a form without a file: a message at 4 bytes a character."""
    return 4 * config.max_message_chars + _FORM_OVERHEAD_BYTES


class _App(Flask):
    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """Bind a Host that Werkzeug cannot parse to loopback, so that its 400 page renders.

        Werkzeug refuses such a Host (a label over 63 characters, an empty label) while
        binding the URL map; without an adapter, an error page cannot build its links.
        The Host allowlist then refuses the request like any foreign host.
        """
        try:
            return super().create_url_adapter(request)
        except BadHost:
            if request is None:
                raise
            return self.url_map.bind(
                "localhost", script_name=request.root_path or "/", url_scheme=request.scheme
            )


def base_app(
    import_name: str,
    config: Config,
    sessions: SessionStore,
    cookie_name: str,
    csrf_lifetime: timedelta,
    onion_address: str | None,
) -> Flask:
    """Return a Flask app with the settings, session interface and handlers both apps need."""
    app = _App(import_name)
    app.request_class = SecureRequest
    app.config.update(
        SECRET_KEY=config.secret_key,
        # Werkzeug also bounds its parse buffer by this, so it must hold one body read.
        MAX_FORM_MEMORY_SIZE=max(message_form_bytes(config), 2 * READ_CHUNK_BYTES),
        WTF_CSRF_TIME_LIMIT=int(csrf_lifetime.total_seconds()),
        WTF_CSRF_SSL_STRICT=False,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.session_interface = SealedSessionInterface(sessions, cookie_name)
    hosts.install(app, [onion_address])
    headers.install(app)
    errors.install(app)

    @app.before_request
    def refuse_nul() -> None:
        if isinstance(request, SecureRequest) and request.has_nul:
            raise MalformedForm

    return app
