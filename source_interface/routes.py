"""Source routes: each parses the request, calls one service verb, and renders or redirects."""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import BadRequest

from securedrop_lite import __version__
from securedrop_lite.config import Config
from securedrop_lite.services import Services
from securedrop_lite.services.sources import LoginFailed, SourceIdentity, UnknownSource
from securedrop_lite.services.submissions import (
    EmptySubmission,
    MessageTooLong,
    SubmissionRefused,
    Upload,
    UploadsDisabled,
)
from securedrop_lite.web.forms import require_valid
from securedrop_lite.web.session import sealed_session
from source_interface.forms import CreateForm, DeleteReplyForm, LoginForm, SubmitForm

LOGIN_FAILED = "Sorry, that codename was not recognized. Please check it and try again."
REFUSALS = {
    EmptySubmission: "Please write a message or choose a file to send.",
    MessageTooLong: "Your message is too long. Please shorten it, or send it as a file.",
    UploadsDisabled: "This office accepts messages only. Please paste the text instead.",
}


class ExtraFiles(BadRequest):
    description = "Please send one file at a time, using the file field on the page."


def _encode(identity: SourceIdentity) -> dict[str, str]:
    return {
        "lookup_id": identity.lookup_id,
        "key_seed": base64.b64encode(identity.key_seed).decode(),
    }


def _decode(data: Any) -> SourceIdentity | None:
    if not isinstance(data, dict):
        return None
    return SourceIdentity(data["lookup_id"], base64.b64decode(data["key_seed"]))


def require_source(view: Callable[..., Any]) -> Callable[..., Any]:
    """Pass the logged-in source's identity to the view, or send the visitor to /login."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        identity = _decode(session.get("source"))
        if identity is None:
            return redirect(url_for("main.login"))
        try:
            return view(identity, *args, **kwargs)
        except UnknownSource:
            sealed_session().end()
            return redirect(url_for("main.index"))

    return wrapped


def make_blueprint(config: Config, services: Services) -> Blueprint:
    bp = Blueprint("main", __name__)

    @bp.get("/")
    def index() -> str:
        return render_template("index.html")

    @bp.get("/generate")
    def generate() -> Any:
        if session.get("source"):
            return redirect(url_for("main.lookup"))
        codename, identity = services.sources.new_identity()
        session["pending"] = _encode(identity)
        return render_template("generate.html", codename=codename, form=CreateForm())

    @bp.post("/create")
    def create() -> Any:
        require_valid(CreateForm())
        identity = _decode(session.pop("pending", None))
        if identity is None:
            flash("Please get your codename first.")
            return redirect(url_for("main.generate"))
        services.sources.create(identity)
        sealed_session().regenerate()
        session["source"] = _encode(identity)
        return redirect(url_for("main.lookup"))

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        form = LoginForm()
        if request.method == "GET":
            return render_template("login.html", form=form)
        require_valid(form)
        try:
            identity = services.sources.login(form.codename.data)
        except LoginFailed:
            return render_template("login.html", form=form, error=LOGIN_FAILED), 401
        sealed_session().regenerate()
        session.pop("pending", None)
        session["source"] = _encode(identity)
        return redirect(url_for("main.lookup"))

    @bp.get("/lookup")
    @require_source
    def lookup(identity: SourceIdentity) -> str:
        summary = services.sources.summary(identity)
        return render_template(
            "lookup.html", summary=summary, form=SubmitForm(), reply_form=DeleteReplyForm()
        )

    @bp.post("/delete-reply")
    @require_source
    def delete_reply(identity: SourceIdentity) -> Any:
        form = DeleteReplyForm()
        require_valid(form)
        services.replies.delete_for_source(identity, form.number.data)
        flash("The reply was deleted.")
        return redirect(url_for("main.lookup"))

    @bp.post("/submit")
    @require_source
    def submit(identity: SourceIdentity) -> Any:
        req: Any = request
        if g.settings.allow_uploads:  # otherwise a file part goes to the spool and is refused
            req.upload_sink = services.submissions.begin_upload
        form = SubmitForm()
        require_valid(form)
        if set(request.files) - {"fh"} or len(request.files.getlist("fh")) > 1:
            raise ExtraFiles
        part = request.files.get("fh")
        upload = part.stream if part is not None and isinstance(part.stream, Upload) else None
        file_refused = part is not None and upload is None and bool(part.filename)
        try:
            count = services.submissions.submit(identity, form.msg.data or "", upload, file_refused)
        except SubmissionRefused as exc:
            summary = services.sources.summary(identity)
            error = REFUSALS.get(type(exc), "This submission could not be accepted.")
            page = render_template(
                "lookup.html",
                summary=summary,
                form=form,
                reply_form=DeleteReplyForm(formdata=None),
                error=error,
            )
            return page, 400
        flash(f"Thank you. The ombuds office received {'both' if count == 2 else 'it'}.")
        return redirect(url_for("main.lookup"))

    @bp.get("/logout")
    def logout() -> str:
        sealed_session().end()
        return render_template("logout.html")

    @bp.get("/public-key")
    def public_key() -> Response:
        response = Response(services.key.armored(), mimetype="application/pgp-keys")
        response.headers["Content-Disposition"] = "attachment; filename=ombuds-public-key.asc"
        return response

    @bp.get("/metadata")
    def metadata() -> Response:
        info = services.key_monitor.usable()
        settings = services.settings.current()
        return jsonify(
            organization=settings.organization_name,
            sdlite_version=__version__,
            submission_key_fingerprint=config.submission_key_fingerprint,
            submission_key_usable=info is not None,
            allow_uploads=settings.allow_uploads,
            max_upload_bytes=settings.max_upload_bytes,
            onion_address=services.onion.source_address,
        )

    @bp.get("/robots.txt")
    def robots() -> Response:
        return Response("User-agent: *\nDisallow: /\n", mimetype="text/plain")

    return bp
