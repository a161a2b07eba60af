"""Admin views of the workers' information pages: edit the Markdown, preview it, reset it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.exceptions import NotFound
from wtforms import TextAreaField

from journalist_interface.access import admin_required
from journalist_interface.forms import ActionForm
from securedrop_lite.infopages import MAX_MARKDOWN_CHARS, InfoPageView, InvalidPage, NoSuchPage
from securedrop_lite.services import Services
from securedrop_lite.services.audit import Event
from securedrop_lite.web import errors
from securedrop_lite.web.forms import require_valid

LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


class InfoPageForm(FlaskForm):
    markdown = TextAreaField("Markdown")  # the service explains an empty, long or untitled page


def _edit_page(
    page: InfoPageView,
    form: InfoPageForm,
    preview: Markup | None,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "admin/pages_edit.html",
        page=page,
        form=form,
        preview=preview,
        previewing_changes=request.method == "POST",
        language=LANGUAGE_NAMES.get(page.locale, page.locale),
        limit=MAX_MARKDOWN_CHARS,
        error=error,
    ), status


def make_pages_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("info_pages", __name__)
    bp.before_request(admin_required(lambda: None))

    @bp.get("/")
    def index() -> str:
        return render_template(
            "admin/pages.html", pages=services.info_pages.overview(), languages=LANGUAGE_NAMES
        )

    @bp.route("/<slug>/<locale>", methods=["GET", "POST"])
    def edit(slug: str, locale: str) -> Any:
        page = services.info_pages.get(slug, locale)
        form = InfoPageForm()
        if request.method == "GET":
            form.markdown.data = page.markdown
            return _edit_page(page, form, page.html)
        require_valid(form)
        text = form.markdown.data or ""
        try:
            if request.form.get("action") == "preview":
                return _edit_page(page, form, services.info_pages.preview(text))
            services.info_pages.save(slug, locale, text)
        except InvalidPage as exc:
            return _edit_page(page, form, None, error=str(exc), status=400)
        services.audit.record(Event.INFO_PAGE_CHANGED)
        flash(f"Saved. Sources now see this version of “{slug}” in {LANGUAGE_NAMES[locale]}.")
        return redirect(url_for("info_pages.edit", slug=slug, locale=locale))

    @bp.post("/<slug>/<locale>/reset")
    def reset(slug: str, locale: str) -> Any:
        require_valid(ActionForm())
        services.info_pages.reset(slug, locale)
        services.audit.record(Event.INFO_PAGE_CHANGED)
        flash(f"“{slug}” in {LANGUAGE_NAMES[locale]} is back to the shipped default.")
        return redirect(url_for("info_pages.edit", slug=slug, locale=locale))

    @bp.errorhandler(NoSuchPage)
    def no_such_page(_: NoSuchPage) -> Response:
        return errors.error_page(NotFound("There is no such information page."))

    return bp


def register(app: Flask, services: Services) -> None:
    """Serve the admin views of the information pages under /admin/pages."""
    app.register_blueprint(make_pages_blueprint(services), url_prefix="/admin/pages")
