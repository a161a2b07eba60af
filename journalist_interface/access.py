"""The login lock: every view needs a logged-in account unless it is on a short allowlist."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

import segno
from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup

from journalist_interface.forms import ActionForm, CodeForm, LoginForm, ReauthForm
from securedrop_lite.config import Config
from securedrop_lite.services import Services
from securedrop_lite.services.audit import Event
from securedrop_lite.services.users import Account, CodeRejected, LoginRefused
from securedrop_lite.web.forms import require_valid
from securedrop_lite.web.session import sealed_session

# The only views that answer without a login (SecureDrop's _insecure_views).
INSECURE_VIEWS = frozenset({"static", "account.login"})
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
REAUTH_REFUSED = "Your passphrase or two-factor code was not accepted. Nothing was changed."
LOGIN_REFUSED = "Login failed. Check your username, passphrase and two-factor code, and try again."


def current_account() -> Account:
    account: Account = g.account
    return account


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_account().is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def qr_svg(uri: str) -> Markup:
    """Return the otpauth URI as an inline SVG QR code: no image request, no script."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff")
    return Markup(svg)  # noqa: S704  # nosec B704 # segno's markup, from a URI we made


def _account_in_session(services: Services, now: datetime, idle: Any) -> Account | None:
    user_id, epoch = session.get("user_id"), session.get("epoch")
    last_seen = session.get("last_seen")
    if not (isinstance(user_id, int) and isinstance(epoch, str) and isinstance(last_seen, str)):
        return None
    if now - datetime.fromisoformat(last_seen) > idle:
        return None
    # None at once when the account is deleted, or its credentials or role changed.
    return services.users.for_session(user_id, epoch)


def keep_session_after_own_change(services: Services, user_id: int) -> None:
    """After changing one's own credentials, keep this session and end only the others."""
    account = services.users.get(user_id)
    if account is not None and user_id == current_account().id:
        session["epoch"] = account.session_epoch


def install(app: Flask, config: Config, services: Services) -> None:
    @app.before_request
    def require_login() -> Any:
        now = services.clock()
        account = _account_in_session(services, now, config.ombuds_idle_timeout)
        if account is None:
            if "user_id" in session:
                # Cleared, not ended: the login form rendered now keeps a valid CSRF token.
                session.clear()
                if request.endpoint not in INSECURE_VIEWS:
                    return redirect(url_for("account.login", ended=1))
            if request.endpoint in INSECURE_VIEWS:
                return None
            return redirect(url_for("account.login"))
        g.account = account
        # Refreshed once a minute, not on every request: each refresh is a database write.
        if now - datetime.fromisoformat(session["last_seen"]) >= LAST_SEEN_RESOLUTION:
            session["last_seen"] = now.isoformat()
        return None

    @app.context_processor
    def account_context() -> dict[str, object]:
        # Rendering only (logout, and the like): never bind the request body, which an
        # error page for an oversized body must not read again.
        return {"account": g.get("account"), "action_form": ActionForm(formdata=None)}

    app.register_blueprint(make_account_blueprint(services))


def enrollment_page(user_id: int, username: str, secret: str, uri: str, **context: Any) -> str:
    return render_template(
        "totp.html",
        user_id=user_id,
        username=username,
        secret=secret,
        qr=qr_svg(uri),
        form=CodeForm(),
        **context,
    )


def confirm_enrollment(services: Services, user_id: int) -> str | None:
    """Check the code against the pending secret; return an error, or None when saved."""
    form = CodeForm()
    require_valid(form)
    pending = session.get("pending_totp")
    if not isinstance(pending, dict) or pending.get("user_id") != user_id:
        return "Start the two-factor reset again."
    try:
        services.users.confirm_totp(user_id, pending["secret"], form.token.data)
    except CodeRejected:
        return "That code does not match the new secret. Check the app's clock and try again."
    session.pop("pending_totp")
    keep_session_after_own_change(services, user_id)
    services.audit.record(Event.TWO_FACTOR_RESET)
    return None


def begin_enrollment(services: Services, user_id: int) -> tuple[str, str]:
    """Draw a new secret and keep it only in the sealed session until a code proves it."""
    pending = session.get("pending_totp")
    if isinstance(pending, dict) and pending.get("user_id") == user_id:
        secret = pending["secret"]
        return secret, services.users.totp_uri(user_id, secret)
    secret, uri = services.users.new_totp(user_id)
    session["pending_totp"] = {"user_id": user_id, "secret": secret}
    return secret, uri


def make_account_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("account", __name__)

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        form = LoginForm()
        if request.method == "GET":
            ended = request.args.get("ended") is not None
            return render_template("login.html", form=form, ended=ended)
        require_valid(form)
        try:
            account = services.users.authenticate(
                form.username.data, form.passphrase.data, form.token.data
            )
        except LoginRefused:
            services.audit.record(Event.LOGIN_FAILED)
            return render_template("login.html", form=LoginForm(), error=LOGIN_REFUSED), 401
        services.audit.record(Event.LOGIN_SUCCEEDED)
        sealed_session().regenerate()  # a new session id at login: no fixation
        session.clear()
        session["user_id"] = account.id
        session["epoch"] = account.session_epoch
        session["last_seen"] = services.clock().isoformat()
        return redirect(url_for("main.inbox"))

    @bp.post("/logout")
    def logout() -> Any:
        require_valid(ActionForm())
        sealed_session().end()
        return redirect(url_for("account.login"))

    def account_page(error: str | None = None, status: int = 200) -> tuple[str, int]:
        return render_template("account.html", form=ReauthForm(), error=error), status

    def reauthenticated() -> bool:
        """Check the passphrase and a fresh code again: a session alone changes nothing."""
        form = ReauthForm()
        require_valid(form)
        try:
            services.users.reauthenticate(
                current_account().id, form.passphrase.data, form.token.data
            )
        except LoginRefused:
            services.audit.record(Event.LOGIN_FAILED)
            return False
        return True

    @bp.get("/account")
    def account() -> Any:
        return account_page()

    @bp.post("/account/passphrase")
    def new_passphrase() -> Any:
        if not reauthenticated():
            return account_page(REAUTH_REFUSED, 401)
        me = current_account()
        passphrase = services.users.reset_passphrase(me.id)
        keep_session_after_own_change(services, me.id)
        services.audit.record(Event.PASSPHRASE_RESET)
        return render_template("passphrase.html", username=me.username, passphrase=passphrase)

    @bp.post("/account/2fa/start")
    def start_two_factor() -> Any:
        if not reauthenticated():
            return account_page(REAUTH_REFUSED, 401)
        session.pop("pending_totp", None)
        begin_enrollment(services, current_account().id)
        return redirect(url_for("account.two_factor"))

    @bp.route("/account/2fa", methods=["GET", "POST"])
    def two_factor() -> Any:
        me = current_account()
        pending = session.get("pending_totp")
        if not isinstance(pending, dict) or pending.get("user_id") != me.id:
            return redirect(url_for("account.account"))  # prove who you are first
        error = None
        if request.method == "POST":
            error = confirm_enrollment(services, me.id)
            if error is None:
                flash("Your new two-factor secret is saved. Your other sessions have ended.")
                return redirect(url_for("account.account"))
        secret, uri = begin_enrollment(services, me.id)
        return enrollment_page(me.id, me.username, secret, uri, error=error)

    return bp
