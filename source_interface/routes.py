"""Source routes: each parses the request, calls one service verb, and renders or redirects."""

from __future__ import annotations

import re
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
from flask_babel import get_locale, gettext, lazy_gettext, ngettext
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response as WerkzeugResponse

from securedrop_lite import __version__
from securedrop_lite.config import Config
from securedrop_lite.services import Services
from securedrop_lite.services.settings import InstanceSettings
from securedrop_lite.services.sources import LoginFailed, SourceIdentity
from securedrop_lite.services.submissions import (
    EmptySubmission,
    MessageTooLong,
    SubmissionRefused,
    Upload,
    UploadsDisabled,
)
from securedrop_lite.services.throttle import throttle_key
from securedrop_lite.web.forms import require_valid
from securedrop_lite.web.session import sealed_session
from source_interface import i18n, info, log_views, talk_views
from source_interface.forms import ConsentForm, CreateForm, DeleteReplyForm, LoginForm, SubmitForm
from source_interface.identity import (
    decode,
    encode,
    has_consented,
    needs_consent,
    require_source,
)

_LANDING_PAGES_KEPT = 16
LOGIN_FAILED = lazy_gettext(
    "Sorry, that codename was not recognized. Please check it and try again."
)
LOGIN_THROTTLED = lazy_gettext(
    "Too many attempts. Please wait a minute, then type your codename again."
)
REFUSALS = {
    EmptySubmission: lazy_gettext("Please write a message or choose a file to send."),
    MessageTooLong: lazy_gettext(
        "Your message is too long. Please shorten it, or send it as a file."
    ),
    UploadsDisabled: lazy_gettext(
        "This office accepts messages only. Please paste the text instead."
    ),
}


# Paths of this site: no scheme, no host, no "//", nothing a browser might read as a URL.
_LOCAL_PATH = re.compile(r"/[A-Za-z0-9_\-./]{0,200}")


class ExtraFiles(BadRequest):
    description = "Please send one file at a time, using the file field on the page."


def _safe_next(target: str | None) -> str:
    """Return a path on this site to go back to; anything else becomes the start page."""
    if target and _LOCAL_PATH.fullmatch(target) and "//" not in target:
        return target
    return url_for("main.index")


def _lookup_page(services: Services, identity: SourceIdentity, **context: Any) -> str:
    summary = services.sources.summary(identity)
    context.setdefault("form", SubmitForm())
    return render_template(
        "lookup.html",
        summary=summary,
        reply_form=DeleteReplyForm(formdata=None),
        needs_consent=needs_consent(lambda: summary.submission_count > 0),
        consent_form=ConsentForm(formdata=None, next="lookup"),
        **context,
    )


def _codename_throttle_key() -> bytes:
    """This browser session's counter. The form's CSRF check means the session has a token."""
    return throttle_key("codename-login", sealed_session().token or b"")


def make_blueprint(config: Config, services: Services) -> Blueprint:
    bp = Blueprint("main", __name__)

    landing_pages: dict[tuple[str, InstanceSettings], str] = {}

    @bp.get("/")
    def index() -> str:
        # The landing page is the same for every visitor in a language, under the same
        # settings, unless the session holds a message to show: render it once.
        if session.get("_flashes"):
            return render_template("index.html")
        key = (str(get_locale()), g.settings)
        page = landing_pages.get(key)
        if page is None:
            if len(landing_pages) >= _LANDING_PAGES_KEPT:
                landing_pages.clear()  # old settings' pages
            page = landing_pages[key] = render_template("index.html")
        return page

    @bp.route("/consent", methods=["GET", "POST"])
    def consent() -> Any:
        form = ConsentForm(next=request.args.get("next", "generate"))
        if request.method == "GET":
            return render_template("consent.html", form=form)
        require_valid(form)
        session["consented"] = True
        return redirect(url_for("main.lookup" if form.next.data == "lookup" else "main.generate"))

    @bp.get("/generate")
    def generate() -> Any:
        if session.get("source"):
            return redirect(url_for("main.lookup"))
        if not has_consented():
            return redirect(url_for("main.consent", next="generate"))
        codename, identity = services.sources.new_identity()
        session["pending"] = encode(identity)
        return render_template("generate.html", codename=codename, form=CreateForm())

    @bp.post("/create")
    def create() -> Any:
        require_valid(CreateForm())
        identity = decode(session.pop("pending", None))
        if identity is None:
            flash(gettext("Please get your codename first."))
            return redirect(url_for("main.generate"))
        services.sources.create(identity)
        sealed_session().regenerate()
        session["source"] = encode(identity)
        return redirect(url_for("main.lookup"))

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        form = LoginForm()
        if request.method == "GET":
            return render_template("login.html", form=form)
        require_valid(form)
        # Counted per browser session, before the codename is derived: a guess over the
        # limit costs the server one small write, and other sources are not held up.
        key = _codename_throttle_key()
        admission = services.throttle.admit(key, config.codename_attempts_per_minute)
        if not admission.admitted:
            page = render_template("login.html", form=form, error=LOGIN_THROTTLED)
            return page, 429, {"Retry-After": str(admission.retry_after_seconds)}
        try:
            identity = services.sources.login(form.codename.data)
        except LoginFailed:
            return render_template("login.html", form=form, error=LOGIN_FAILED), 401
        services.throttle.forget(key)
        sealed_session().regenerate()
        session.pop("pending", None)
        session["source"] = encode(identity)
        return redirect(url_for("main.lookup"))

    @bp.get("/lookup")
    @require_source
    def lookup(identity: SourceIdentity) -> str:
        return _lookup_page(services, identity)

    @bp.post("/delete-reply")
    @require_source
    def delete_reply(identity: SourceIdentity) -> Any:
        form = DeleteReplyForm()
        require_valid(form)
        services.replies.delete_for_source(identity, form.number.data)
        flash(gettext("The reply was deleted."))
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
        if needs_consent(lambda: services.sources.has_submitted(identity)):
            if upload is not None:
                upload.close()  # nothing is kept before the worker has read the consent page
            return redirect(url_for("main.consent", next="lookup"))
        file_refused = part is not None and upload is None and bool(part.filename)
        try:
            count = services.submissions.submit(identity, form.msg.data or "", upload, file_refused)
        except SubmissionRefused as exc:
            error = REFUSALS.get(type(exc), lazy_gettext("This submission could not be accepted."))
            return _lookup_page(services, identity, form=form, error=error), 400
        flash(
            ngettext(
                "Thank you. The ombuds office received it.",
                "Thank you. The ombuds office received both.",
                count,
            )
        )
        return redirect(url_for("main.lookup"))

    @bp.get("/logout")
    def logout() -> str:
        get_locale()  # the page after the session ends stays in the chosen language
        sealed_session().end()
        return render_template("logout.html")

    @bp.get("/exit")
    def quick_exit() -> WerkzeugResponse:
        """Leave at once: end the session, ask the browser to forget this site, go elsewhere."""
        sealed_session().end()
        response = redirect(config.quick_exit_url, code=303)
        response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
        return response

    @bp.get("/lang/<code>")
    def set_language(code: str) -> Any:
        if code in i18n.LANGUAGES:
            session["lang"] = code
        return redirect(_safe_next(request.args.get("next")))

    @bp.get("/public-key")
    def public_key() -> Response:
        response = Response(services.key.armored(), mimetype="application/pgp-keys")
        response.headers["Content-Disposition"] = "attachment; filename=ombuds-public-key.asc"
        return response

    @bp.get("/metadata")
    def metadata() -> Response:
        key_info = services.key_monitor.usable()
        settings = services.settings.current()
        return jsonify(
            organization=settings.organization_name,
            sdlite_version=__version__,
            submission_key_fingerprint=config.submission_key_fingerprint,
            submission_key_usable=key_info is not None,
            allow_uploads=settings.allow_uploads,
            max_upload_bytes=settings.max_upload_bytes,
            onion_address=services.onion.source_address,
        )

    @bp.get("/robots.txt")
    def robots() -> Response:
        return Response("User-agent: *\nDisallow: /\n", mimetype="text/plain")

    log_views.register(bp, config, services)
    talk_views.register(bp, config, services)
    info.register(bp, services)
    return bp
