"""The ombuds interface: inbox, ciphertext downloads, replies and admin, behind three locks."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from werkzeug.exceptions import NotFound, ServiceUnavailable

from journalist_interface import access
from journalist_interface.admin import make_admin_blueprint
from journalist_interface.routes import make_blueprint
from securedrop_lite.config import Config
from securedrop_lite.services import Services, build_services
from securedrop_lite.services.inbox import NoSuchItem, NoSuchSource
from securedrop_lite.services.replies import NoSuchReply
from securedrop_lite.services.submissions import StorageFailed
from securedrop_lite.store import StoreError
from securedrop_lite.web import errors, headers
from securedrop_lite.web.request import SecureRequest
from securedrop_lite.web.session import SealedSessionInterface

COOKIE_NAME = "sdlj"
# The largest form: a reply of max_message_chars, four bytes a character at most.
_FORM_OVERHEAD_BYTES = 64 * 1024


def create_app(config: Config, services: Services | None = None) -> Flask:
    """Build the ombuds app from a Config; tests may hand in services built on their clock."""
    services = services or build_services(config)
    app = Flask(__name__)
    app.request_class = SecureRequest
    form_bytes = 4 * config.max_message_chars + _FORM_OVERHEAD_BYTES
    app.config.update(
        SECRET_KEY=config.secret_key,
        MAX_CONTENT_LENGTH=form_bytes,
        MAX_FORM_MEMORY_SIZE=form_bytes,
        WTF_CSRF_TIME_LIMIT=int(timedelta(hours=2).total_seconds()),
        WTF_CSRF_SSL_STRICT=False,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.session_interface = SealedSessionInterface(services.sessions, COOKIE_NAME)
    headers.install(app)
    errors.install(app)
    not_found = NotFound("There is nothing here, or it was deleted.")
    for missing in (NoSuchSource, NoSuchItem, NoSuchReply):
        app.register_error_handler(missing, lambda _: errors.error_page(not_found))
    unavailable = ServiceUnavailable("The store could not complete this. Nothing was changed.")
    for failure in (StorageFailed, StoreError):
        app.register_error_handler(failure, lambda _: errors.error_page(unavailable))
    access.install(app, config, services)

    @app.context_processor
    def instance() -> dict[str, object]:
        return {"organization_name": services.settings.current().organization_name}

    app.register_blueprint(make_blueprint(services))
    app.register_blueprint(make_admin_blueprint(services), url_prefix="/admin")
    return app
