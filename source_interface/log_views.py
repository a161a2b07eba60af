"""The private incident log: write, read, revise, delete, download with a receipt, share."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext, ngettext
from werkzeug.exceptions import NotFound, ServiceUnavailable

from securedrop_lite.config import Config
from securedrop_lite.models import MAX_NUMBER
from securedrop_lite.receipts import ReceiptKeyError
from securedrop_lite.services import Services
from securedrop_lite.services.incidentlog import (
    EntryFields,
    EntryLabels,
    EntryRefused,
    NoSuchEntry,
)
from securedrop_lite.services.sources import SourceIdentity
from securedrop_lite.web.forms import require_valid
from source_interface.forms import ConfirmForm, LogEntryForm
from source_interface.identity import needs_consent, require_source

ENTRY_REFUSALS = {
    "what": lazy_gettext("Please write what happened."),
    "length": lazy_gettext("This entry is too long. Please shorten it."),
    "entries": lazy_gettext(
        "Your log is full. Please delete entries you no longer need, or send long "
        "accounts to the ombuds as a message."
    ),
    "versions": lazy_gettext("This entry has too many versions. Please write a new entry instead."),
}
NO_SUCH_ENTRY = NotFound(lazy_gettext("There is nothing here, or it was deleted."))
# The receipt key is unreadable (its mode, a restore without it): nothing can be signed.
CANNOT_SIGN = ServiceUnavailable(
    lazy_gettext(
        "Your entry could not be saved right now, and nothing of it was kept. "
        "Please try again later."
    )
)


def entry_labels() -> EntryLabels:
    """Return the headings written into an entry, in the worker's language."""
    return EntryLabels(
        when=gettext("When it happened"),
        where=gettext("Where"),
        present=gettext("Who was present"),
        what=gettext("What happened"),
        witnesses=gettext("Witnesses"),
    )


def document_heading() -> str:
    return gettext(
        "An entry from a private incident log, with a receipt. The receipt shows that the "
        "office's receipt key signed this exact text on the date given; check it with the "
        "office's published receipt key (sdlite-airgap verify-receipt --key). Changing a "
        "single character of the entry makes the check fail. This heading is not signed."
    )


def _fields(form: LogEntryForm) -> EntryFields:
    return EntryFields(
        when=form.when.data or "",
        where=form.where.data or "",
        present=form.present.data or "",
        what=form.what.data or "",
        witnesses=form.witnesses.data or "",
    )


def register(bp: Blueprint, config: Config, services: Services) -> None:
    log = services.incident_log

    def entry_form_page(form: LogEntryForm, ref: str | None, error: Any = None) -> Any:
        page = render_template(
            "log_form.html", form=form, ref=ref, error=error, max_chars=config.max_message_chars
        )
        return page if error is None else (page, 400)

    @bp.get("/log")
    @require_source
    def log_list(identity: SourceIdentity) -> str:
        return render_template("log_list.html", entries=log.entries(identity), form=ConfirmForm())

    @bp.route("/log/new", methods=["GET", "POST"])
    @require_source
    def log_new(identity: SourceIdentity) -> Any:
        form = LogEntryForm()
        if request.method == "GET":
            return entry_form_page(form, None)
        require_valid(form)
        try:
            ref = log.add(identity, _fields(form), entry_labels())
        except EntryRefused as exc:
            return entry_form_page(form, None, ENTRY_REFUSALS[str(exc)])
        except ReceiptKeyError:
            raise CANNOT_SIGN from None
        flash(gettext("The entry was saved. Only your codename can open it."))
        return redirect(url_for("main.log_entry", ref=ref))

    @bp.get("/log/<ref>")
    @require_source
    def log_entry(identity: SourceIdentity, ref: str) -> str:
        try:
            history = log.history(identity, ref)
        except NoSuchEntry:
            raise NO_SUCH_ENTRY from None
        return render_template("log_entry.html", ref=ref, history=history)

    @bp.route("/log/<ref>/revise", methods=["GET", "POST"])
    @require_source
    def log_revise(identity: SourceIdentity, ref: str) -> Any:
        try:
            latest = log.latest(identity, ref)
        except NoSuchEntry:
            raise NO_SUCH_ENTRY from None
        if request.method == "GET":
            return entry_form_page(LogEntryForm(data=asdict(latest.fields)), ref)
        form = LogEntryForm()
        require_valid(form)
        try:
            log.revise(identity, ref, _fields(form), entry_labels())
        except EntryRefused as exc:
            return entry_form_page(form, ref, ENTRY_REFUSALS[str(exc)])
        except NoSuchEntry:  # deleted in another tab meanwhile
            raise NO_SUCH_ENTRY from None
        except ReceiptKeyError:
            raise CANNOT_SIGN from None
        flash(gettext("The new version was saved. Earlier versions are kept."))
        return redirect(url_for("main.log_entry", ref=ref))

    @bp.route("/log/<ref>/delete", methods=["GET", "POST"])
    @require_source
    def log_delete(identity: SourceIdentity, ref: str) -> Any:
        if request.method == "GET":
            try:
                latest = log.latest(identity, ref)
            except NoSuchEntry:
                raise NO_SUCH_ENTRY from None
            return render_template("log_delete.html", ref=ref, latest=latest, form=ConfirmForm())
        require_valid(ConfirmForm())
        try:
            log.delete(identity, ref)
        except NoSuchEntry:
            raise NO_SUCH_ENTRY from None
        flash(gettext("The entry and all its versions were deleted."))
        return redirect(url_for("main.log_list"))

    @bp.get(f"/log/<ref>/<int(max={MAX_NUMBER}):version>/receipt")
    @require_source
    def log_download(identity: SourceIdentity, ref: str, version: int) -> Response:
        try:
            chosen = log.version(identity, ref, version)
            document = log.document_of(chosen, document_heading())
        except NoSuchEntry:
            raise NO_SUCH_ENTRY from None
        response = Response(document, mimetype="text/plain")
        name = f"incident-log-{chosen.created_on.isoformat()}-v{version}.txt"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @bp.post("/log/share")
    @require_source
    def log_share(identity: SourceIdentity) -> Any:
        require_valid(ConfirmForm())
        refs = request.form.getlist("entries")
        if not refs:
            flash(gettext("Choose at least one entry to share."))
            return redirect(url_for("main.log_list"))
        if needs_consent(lambda: services.sources.has_submitted(identity)):
            return redirect(url_for("main.consent", next="lookup"))
        try:
            count = log.share(identity, refs, document_heading())
        except NoSuchEntry:
            raise NO_SUCH_ENTRY from None
        flash(
            ngettext(
                "%(num)d entry was shared with the ombuds. Your own copy stays private.",
                "%(num)d entries were shared with the ombuds. Your own copies stay private.",
                count,
            )
        )
        return redirect(url_for("main.log_list"))
