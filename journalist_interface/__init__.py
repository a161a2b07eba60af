"""The ombuds interface: inbox, ciphertext downloads, replies and admin, behind three locks."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from werkzeug.exceptions import NotFound, ServiceUnavailable

from journalist_interface import access, pages
from journalist_interface.admin import make_admin_blueprint
from journalist_interface.routes import make_blueprint
from securedrop_lite.config import Config
from securedrop_lite.services import Services, build_services
from securedrop_lite.services.inbox import NoSuchItem, NoSuchSource
from securedrop_lite.services.items import StorageFailed
from securedrop_lite.services.replies import NoSuchReply
from securedrop_lite.store import StoreError
from securedrop_lite.web import errors
from securedrop_lite.web.app import base_app, message_form_bytes

COOKIE_NAME = "sdlj"


def create_app(config: Config, services: Services | None = None) -> Flask:
    """Build the ombuds app from a Config; tests may hand in services built on their clock."""
    services = services or build_services(config)
    app = base_app(
        __name__,
        config,
        services.sessions,
        COOKIE_NAME,
        timedelta(hours=2),
        services.onion.ombuds_address,
    )
    app.config["MAX_CONTENT_LENGTH"] = message_form_bytes(config)  # forms only, no files
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
    pages.register(app, services)
    return app
