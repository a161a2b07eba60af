"""Languages of the source interface: chosen by a link, kept in the server-side session.

Tor Browser sends the same Accept-Language for everyone, so the header is not read: a
worker picks a language with a link (no JavaScript), and the sealed session keeps it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, session
from flask_babel import Babel

LANGUAGES = {"en": "English", "es": "Español"}
DEFAULT_LANGUAGE = "en"
TRANSLATIONS = Path(__file__).parent / "translations"


def chosen_language() -> str:
    """Return the language this visitor chose, or the default."""
    language = session.get("lang")
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def install(app: Flask) -> None:
    Babel(
        app,
        locale_selector=chosen_language,
        default_translation_directories=str(TRANSLATIONS),
        default_domain="messages",
    )
