"""Information pages for workers: what the ombuds does, their options, where else to get help."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext
from werkzeug.exceptions import NotFound

from securedrop_lite.infopages import SLUGS, NoSuchPage
from securedrop_lite.services import Services
from source_interface.i18n import chosen_language


def register(bp: Blueprint, services: Services) -> None:
    """Add GET /info/<slug> to the main blueprint."""

    @bp.get("/info/<slug>")
    def info(slug: str) -> str:
        language = chosen_language()
        try:
            page = services.info_pages.get(slug, language)
        except NoSuchPage:
            raise NotFound(gettext("There is no such page.")) from None
        # The other pages are linked by their own titles, which admins may have rewritten.
        others = [services.info_pages.get(other, language) for other in SLUGS if other != slug]
        return render_template("info.html", page=page, others=others)
