"""Languages of the source interface: chosen by a link, kept in the server-side session.

Tor Browser sends the same Accept-Language for everyone, so the header is not read: a
worker picks a language with a link (no JavaScript), and the sealed session keeps it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.support import NullTranslations
from flask import Flask, g, session
from flask_babel import Babel, get_translations

LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT_LANGUAGE = "en"
TRANSLATIONS = Path(__file__).parent / "translations"


def chosen_language() -> str:
    """Return the language this visitor chose, or the default."""
    language = session.get("lang")
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def _translations() -> NullTranslations:
    """This request's catalog, looked up once: a page calls gettext dozens of times."""
    found: NullTranslations | None = g.get("_catalog")
    if found is None:
        found = g._catalog = get_translations()
    return found


def install(app: Flask) -> None:
    Babel(
        app,
        locale_selector=chosen_language,
        default_translation_directories=str(TRANSLATIONS),
        default_domain="messages",
    )
    # The same callables Flask-Babel installs, without its per-call context lookups.
    # (jinja2.ext.i18n adds install_gettext_callables to the environment at run time.)
    environment: Any = app.jinja_env
    environment.install_gettext_callables(
        lambda message: _translations().ugettext(message),
        lambda singular, plural, n: _translations().ungettext(singular, plural, n),
        newstyle=True,
    )
