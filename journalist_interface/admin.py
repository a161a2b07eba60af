"""Admin views: accounts and instance settings. Admins read no more content than anyone."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    after_this_request,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from journalist_interface.access import (
    admin_required,
    begin_enrollment,
    confirm_enrollment,
    current_account,
    enrollment_page,
    keep_session_after_own_change,
    qr_svg,
)
from journalist_interface.forms import ActionForm, NewUserForm, SettingsForm
from securedrop_lite.config import MIB
from securedrop_lite.onion import (
    AccessUpdate,
    OnionPublisher,
    TorError,
    apply_user_change,
    auth_private_line,
)
from securedrop_lite.services import Services
from securedrop_lite.services.audit import Event
from securedrop_lite.services.settings import InstanceSettings, InvalidSettings
from securedrop_lite.services.users import AccountError
from securedrop_lite.web.forms import require_valid


def _settings_form(current: InstanceSettings) -> SettingsForm:
    form = SettingsForm()
    if request.method == "GET":
        form.organization_name.data = current.organization_name
        form.welcome_text.data = current.welcome_text
        form.response_promise.data = current.response_promise
        form.allow_uploads.data = current.allow_uploads
        form.max_upload_mib.data = current.max_upload_bytes // MIB
        form.retention_days.data = current.retention_days
    return form


REPUBLISHING = (
    "The ombuds onion service is republished with the new list of Tor keys as this page "
    "finishes loading. Every open connection to it, yours included, is cut and reopens "
    "within seconds; the Accounts page then shows whether it worked."
)


def onion_state(onion: OnionPublisher) -> tuple[bool, str]:
    """Return whether the ombuds onion service is as it should be, and a line saying so."""
    if not onion.configured:
        return True, "sdlite does not manage the onion services here (no tor_control)."
    try:
        status = onion.status()
    except TorError as exc:
        return False, f"The onion services' state is unknown: {exc}"
    except Exception as exc:  # the page must render whatever went wrong
        return False, f"The onion services' state is unknown ({type(exc).__name__})."
    if status.healthy:
        return True, (
            f"Both onion services are published; the ombuds service admits "
            f"{status.client_keys} client key(s)."
        )
    return False, (
        "The onion services are NOT as they should be (not published, or an outdated "
        "list of client keys): run `sdlite onion up` on the server."
    )


def make_admin_blueprint(services: Services) -> Blueprint:
    bp = Blueprint("admin", __name__)
    bp.before_request(admin_required(lambda: None))

    def users_page(**context: Any) -> str:
        return render_template(
            "admin/users.html",
            users=services.users.list(),
            onion_state=onion_state(services.onion),
            **context,
        )

    def account_name(user_id: int) -> str:
        account = services.users.get(user_id)
        if account is None:
            raise AccountError("There is no such user.")
        return account.username

    def republish_after_response() -> AccessUpdate:
        """Republish the ombuds service once this response has been sent.

        Republishing after a revocation cuts every circuit to the ombuds service, the
        admin's own included: the page (with a key shown only once) must arrive first.
        """
        if not services.onion.configured:
            return apply_user_change(services.onion)

        @after_this_request
        def then_republish(response: Response) -> Response:
            response.call_on_close(lambda: apply_user_change(services.onion))
            return response

        return AccessUpdate(True, REPUBLISHING)

    def client_key_page(username: str, private_key: str, **context: Any) -> str:
        """Show a Tor client key once, and what became of it at the onion service."""
        update = republish_after_response()
        address = services.onion.ombuds_address or ""
        return render_template(
            context.pop("template", "admin/onion_key.html"),
            username=username,
            onion_address=address,
            onion_key=private_key,
            auth_line=auth_private_line(address, private_key),
            access=update,
            **context,
        )

    @bp.get("/")
    def users() -> str:
        return users_page(form=NewUserForm())

    @bp.post("/users")
    def add_user() -> Any:
        form = NewUserForm()
        require_valid(form)
        try:
            new = services.users.add(form.username.data, bool(form.is_admin.data))
        except AccountError as exc:
            return users_page(form=form, error=str(exc)), 400
        services.audit.record(Event.USER_ADDED)
        return client_key_page(
            new.username,
            new.onion_private_key,
            template="admin/new_user.html",
            new=new,
            qr=qr_svg(new.totp_uri),
        )

    @bp.post("/users/<int(max=2147483647):user_id>/onion-key")
    def new_onion_key(user_id: int) -> str:
        require_valid(ActionForm())
        username = account_name(user_id)
        private_key = services.users.new_onion_key(user_id)
        services.audit.record(Event.ONION_KEY_REISSUED)
        return client_key_page(username, private_key)

    @bp.post("/users/<int(max=2147483647):user_id>/passphrase")
    def reset_passphrase(user_id: int) -> str:
        require_valid(ActionForm())
        username = account_name(user_id)
        passphrase = services.users.reset_passphrase(user_id)
        keep_session_after_own_change(services, user_id)
        services.audit.record(Event.PASSPHRASE_RESET)
        return render_template("passphrase.html", username=username, passphrase=passphrase)

    @bp.route("/users/<int(max=2147483647):user_id>/2fa", methods=["GET", "POST"])
    def reset_two_factor(user_id: int) -> Any:
        username = account_name(user_id)
        error = None
        if request.method == "POST":
            error = confirm_enrollment(services, user_id)
            if error is None:
                flash(f"The new two-factor secret of {username} is saved.")
                return redirect(url_for("admin.users"))
        secret, uri = begin_enrollment(services, user_id)
        return enrollment_page(user_id, username, secret, uri, error=error)

    @bp.post("/users/<int(max=2147483647):user_id>/admin")
    def set_admin(user_id: int) -> Any:
        require_valid(ActionForm())
        grant = request.form.get("grant") == "1"
        services.users.set_admin(user_id, grant)
        keep_session_after_own_change(services, user_id)
        services.audit.record(Event.ADMIN_GRANTED if grant else Event.ADMIN_REVOKED)
        return redirect(url_for("admin.users"))

    @bp.route("/users/<int(max=2147483647):user_id>/delete", methods=["GET", "POST"])
    def delete_user(user_id: int) -> Any:
        username = account_name(user_id)
        if request.method == "GET":
            return render_template("admin/delete_user.html", user_id=user_id, username=username)
        require_valid(ActionForm())
        if user_id == current_account().id:
            raise AccountError("You cannot delete your own account; ask another admin.")
        services.users.delete(user_id)
        services.audit.record(Event.USER_DELETED)
        flash(f"Deleted the account {username}.")
        flash(republish_after_response().message)
        return redirect(url_for("admin.users"))

    @bp.route("/settings", methods=["GET", "POST"])
    def settings() -> Any:
        form = _settings_form(services.settings.current())
        if request.method == "GET":
            return render_template("admin/settings.html", form=form)
        require_valid(form)
        try:
            services.settings.update(
                InstanceSettings(
                    organization_name=form.organization_name.data.strip(),
                    welcome_text=form.welcome_text.data or "",
                    response_promise=form.response_promise.data or "",
                    allow_uploads=bool(form.allow_uploads.data),
                    max_upload_bytes=form.max_upload_mib.data * MIB,
                    retention_days=form.retention_days.data,
                )
            )
        except InvalidSettings as exc:
            return render_template("admin/settings.html", form=form, error=str(exc)), 400
        services.audit.record(Event.SETTINGS_CHANGED)
        flash("Settings saved.")
        return redirect(url_for("admin.settings"))

    @bp.get("/audit")
    def audit() -> str:
        page = request.args.get("page", 1, type=int)
        return render_template("admin/audit.html", log=services.audit.page(page), number=page)

    @bp.errorhandler(AccountError)
    def account_error(exc: AccountError) -> Any:
        # Not bound to the request: its body may be the reason for the error.
        return users_page(form=NewUserForm(formdata=None), error=str(exc)), 400

    return bp
