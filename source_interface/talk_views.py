"""Ask for a conversation with the ombuds, and withdraw everything."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, lazy_gettext

from securedrop_lite.config import Config
from securedrop_lite.services import Services
from securedrop_lite.services.conversation import ConversationRequest, RequestRefused
from securedrop_lite.services.sources import SourceIdentity
from securedrop_lite.web.forms import require_valid
from securedrop_lite.web.session import sealed_session
from source_interface.forms import ConfirmForm, ConversationForm
from source_interface.i18n import LANGUAGES
from source_interface.identity import needs_consent, require_source

REQUEST_REFUSALS = {
    "channel": lazy_gettext("Please choose how you would like to talk."),
    "contact": lazy_gettext(
        "Please give the contact details the ombuds should use (at most 500 characters)."
    ),
    "times": lazy_gettext("Please shorten the times that suit you (at most 1,000 characters)."),
}


def register(bp: Blueprint, config: Config, services: Services) -> None:
    def request_page(form: ConversationForm, error: Any = None) -> Any:
        page = render_template(
            "request.html", form=form, error=error, keep_days=config.conversation_request_days
        )
        return page if error is None else (page, 400)

    @bp.route("/request-conversation", methods=["GET", "POST"])
    @require_source
    def request_conversation(identity: SourceIdentity) -> Any:
        form = ConversationForm()
        if request.method == "GET":
            return request_page(form)
        require_valid(form)
        if needs_consent(lambda: services.sources.has_submitted(identity)):
            return redirect(url_for("main.consent", next="lookup"))
        wanted = ConversationRequest(
            channel=form.channel.data or "",
            contact=form.contact.data or "",
            times=form.times.data or "",
            language=LANGUAGES[str(get_locale())],
        )
        try:
            services.conversations.request(identity, wanted)
        except RequestRefused as exc:
            return request_page(form, REQUEST_REFUSALS[str(exc)])
        flash(
            gettext("Your request was sent, encrypted. The ombuds will contact you as you asked.")
        )
        return redirect(url_for("main.lookup"))

    @bp.route("/withdraw", methods=["GET", "POST"])
    @require_source
    def withdraw(identity: SourceIdentity) -> Any:
        form = ConfirmForm()
        if request.method == "GET":
            summary = services.sources.summary(identity)
            entries = services.incident_log.count(identity)
            return render_template("withdraw.html", form=form, summary=summary, entries=entries)
        require_valid(form)
        services.sources.withdraw(identity)
        get_locale()  # the last page stays in the chosen language after the session ends
        sealed_session().end()
        return render_template("withdrawn.html")
