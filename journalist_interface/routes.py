"""Ombuds routes: the inbox, a source's items, downloads of ciphertext, replies."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from journalist_interface.forms import ActionForm, ReplyForm
from securedrop_lite.services import Services
from securedrop_lite.services.audit import Event
from securedrop_lite.services.inbox import InboxSort, Selection
from securedrop_lite.services.replies import ReplyRefused
from securedrop_lite.web.forms import require_valid
from securedrop_lite.zipstream import stream_zip, zip_size

PGP_MIMETYPE = "application/pgp-encrypted"
_ZIP_SELECTIONS = {
    "download-chosen": Selection.CHOSEN,
    "download-all": Selection.ALL,
    "download-unread": Selection.UNREAD,
}


def _download(body: Any, size: int, mimetype: str, file_name: str) -> Response:
    response = Response(body, mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response


def _file_chunks(opened: Any) -> Any:
    with opened as f:
        while chunk := f.read(1024 * 1024):
            yield chunk


def make_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("main", __name__)

    @bp.get("/")
    def inbox() -> str:
        sort = InboxSort.parse(request.args.get("sort"))
        page = services.inbox.page(request.args.get("page", 1, type=int), sort=sort)
        return render_template("inbox.html", page=page, sorts=InboxSort)

    @bp.get("/col/<ref>")
    def col(ref: str) -> str:
        view = services.inbox.source(ref)
        return render_template("col.html", source=view, reply_form=ReplyForm())

    @bp.get("/col/<ref>/<file_name>")
    def download_item(ref: str, file_name: str) -> Response:
        opened = services.inbox.item(ref, file_name)
        services.audit.record(Event.DOWNLOAD)
        response = _download(
            _file_chunks(opened[0].open()), opened[0].size, PGP_MIMETYPE, file_name
        )
        response.call_on_close(opened.close)
        return response

    @bp.post("/col/<ref>/items")
    def items(ref: str) -> Any:
        require_valid(ActionForm())
        action = request.form.get("action", "")
        chosen = request.form.getlist("items")
        if action in _ZIP_SELECTIONS:
            selection = _ZIP_SELECTIONS[action]
            if selection is Selection.CHOSEN and not chosen:
                flash("Choose at least one item first.")
                return redirect(url_for("main.col", ref=ref))
            entries = services.inbox.entries(ref, selection, chosen)
            services.audit.record(Event.DOWNLOAD)
            # Members are "<designation>/<file>": the folder names the archive.
            name = f"{entries[0].arcname.split('/')[0]}.zip" if entries else "empty.zip"
            response = _download(stream_zip(entries), zip_size(entries), "application/zip", name)
            response.call_on_close(entries.close)  # files a cut-off download never reached
            return response
        if action == "mark-seen":
            services.inbox.mark_seen(ref, chosen)
        elif action == "delete":
            count = services.inbox.delete_items(ref, chosen)
            services.audit.record(Event.ITEMS_DELETED)
            flash(f"Deleted {count} item(s).")
        else:
            raise BadRequest("Unknown action.")
        return redirect(url_for("main.col", ref=ref))

    @bp.post("/col/<ref>/star")
    def star(ref: str) -> Any:
        require_valid(ActionForm())
        services.inbox.set_starred(ref, request.form.get("starred") == "1")
        if request.form.get("back") == "inbox":
            sort = InboxSort.parse(request.form.get("sort"))
            return redirect(url_for("main.inbox", sort=sort.value))
        return redirect(url_for("main.col", ref=ref))

    @bp.route("/col/<ref>/delete", methods=["GET", "POST"])
    def delete_source(ref: str) -> Any:
        view = services.inbox.source(ref)
        if request.method == "GET":
            return render_template("delete_source.html", source=view)
        require_valid(ActionForm())
        services.inbox.delete_source(ref)
        services.audit.record(Event.SOURCE_DELETED)
        flash(f"Deleted {view.designation} and everything from and to them.")
        return redirect(url_for("main.inbox"))

    @bp.post("/reply")
    def reply() -> Any:
        form = ReplyForm()
        ref = request.form.get("source", "")
        require_valid(form)
        try:
            services.replies.reply(ref, form.message.data or "")
        except ReplyRefused as exc:
            view = services.inbox.source(ref)
            return render_template("col.html", source=view, reply_form=form, error=str(exc)), 400
        services.audit.record(Event.REPLY)
        flash("Your reply was encrypted and stored. The source sees it at their next login.")
        return redirect(url_for("main.col", ref=ref))

    return bp
