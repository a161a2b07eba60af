"""The source interface's forms; every one carries a CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, PasswordField, TextAreaField
from wtforms.validators import InputRequired, NumberRange


class CreateForm(FlaskForm):
    """Confirms the codename shown on /generate; it carries nothing but the CSRF token."""


class DeleteReplyForm(FlaskForm):
    number = IntegerField("Reply", validators=[InputRequired(), NumberRange(1, 2**31 - 1)])


class LoginForm(FlaskForm):
    codename = PasswordField("Codename", validators=[InputRequired()])


class SubmitForm(FlaskForm):
    msg = TextAreaField("Message")
    fh = FileField("File")
