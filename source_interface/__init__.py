"""The source interface: what a worker sees through Tor Browser, with JavaScript off."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, g, render_template, request
from flask_babel import get_locale

from securedrop_lite.config import Config
from securedrop_lite.services import Services, build_services
from securedrop_lite.services.settings import RecentSettings
from securedrop_lite.web.app import base_app, message_form_bytes
from securedrop_lite.web.session import COOKIE_NAME
from source_interface import errors, i18n
from source_interface.routes import make_blueprint

# How long an admin's change to the settings may take to reach a source interface worker.
SETTINGS_MAX_AGE_SECONDS = 2.0
# Routes that work while the submission key is unusable: they reveal nothing and accept no
# content. The information pages (crisis lines among the referrals) matter most when nothing
# else works; so do the quick exit and the language choice.
_ALWAYS_AVAILABLE = {
    "static",
    "main.robots",
    "main.metadata",
    "main.info",
    "main.quick_exit",
    "main.set_language",
}


def create_app(config: Config, services: Services | None = None) -> Flask:
    """Build the source app from a Config; tests may hand in services built on their clock."""
    services = services or build_services(config)
    # CSRF tokens live 24 h: a 500 MiB upload over Tor can take far longer than an hour,
    # and the token is checked only once the whole body has arrived.
    app = base_app(
        __name__,
        config,
        services.sessions,
        COOKIE_NAME,
        timedelta(hours=24),
        services.onion.source_address,
    )
    i18n.install(app)
    errors.install(app)
    message_bytes = message_form_bytes(config)

    recent_settings = RecentSettings(services.settings, SETTINGS_MAX_AGE_SECONDS)

    @app.before_request
    def load_settings() -> None:
        # Admins change these in the ombuds interface; a worker sees a change within seconds.
        g.settings = current = recent_settings.current()
        uploads = current.max_upload_bytes if current.allow_uploads else 0
        request.max_content_length = uploads + message_bytes

    @app.before_request
    def refuse_tor2web() -> tuple[str, int] | None:
        if "X-tor2web" in request.headers:
            return render_template("tor2web.html"), 403
        return None

    @app.before_request
    def offline_when_key_unusable() -> Response | None:
        if request.endpoint in _ALWAYS_AVAILABLE or services.key_monitor.usable() is not None:
            return None
        return Response(render_template("offline.html"), status=503)

    @app.context_processor
    def instance_settings() -> dict[str, object]:
        current = g.get("settings") or services.settings.current()
        return {
            "organization_name": current.organization_name,
            "welcome_text": current.welcome_text,
            "response_promise": current.response_promise,
            "allow_uploads": current.allow_uploads,
            "max_upload_mib": current.max_upload_bytes // (1024 * 1024),
            "max_message_chars": config.max_message_chars,
            "languages": i18n.LANGUAGES,
            # Flask-Babel's choice for this request, which outlives a session ended by it.
            "current_language": str(get_locale()),
        }

    app.register_blueprint(make_blueprint(config, services))
    return app
