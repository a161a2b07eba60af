"""The ombuds interface's forms; every one carries a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired(), Length(max=64)])
    passphrase = PasswordField("Passphrase", validators=[InputRequired(), Length(max=256)])
    token = StringField("Two-factor code", validators=[InputRequired(), Length(max=16)])


class ReauthForm(FlaskForm):
    """The current passphrase and a fresh code, asked again before credentials change."""

    passphrase = PasswordField("Current passphrase", validators=[InputRequired(), Length(max=256)])
    token = StringField("Current two-factor code", validators=[InputRequired(), Length(max=16)])


class ActionForm(FlaskForm):
    """A button that changes something: it carries only the CSRF token."""


class ReplyForm(FlaskForm):
    message = TextAreaField("Reply")  # the service explains an empty or long reply


class CodeForm(FlaskForm):
    token = StringField("Code from the authenticator app", validators=[InputRequired()])


class NewUserForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired(), Length(max=32)])
    is_admin = BooleanField("Admin")


class SettingsForm(FlaskForm):
    organization_name = StringField("Organization name", validators=[InputRequired()])
    welcome_text = TextAreaField("Welcome text on the source landing page")
    response_promise = StringField("Response-time promise shown to sources")
    allow_uploads = BooleanField("Accept files as well as messages")
    max_upload_mib = IntegerField(
        "Largest file (MiB)", validators=[InputRequired(), NumberRange(min=1, max=2048)]
    )
    retention_days = IntegerField(
        "Delete sources idle for more than this many days (0: keep)",
        validators=[InputRequired(), NumberRange(min=0, max=3650)],
    )
