"""The source interface's forms; every one carries a CSRF token.

Labels and messages are written in the templates, where they are translated.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, NumberRange, Optional

from securedrop_lite.models import MAX_NUMBER


class CreateForm(FlaskForm):
    """Confirms the codename shown on /generate; it carries nothing but the CSRF token."""


class ConsentForm(FlaskForm):
    """Records, in this session only, that the visitor read what the ombuds can and cannot do."""

    next = HiddenField(validators=[Optional(), AnyOf(["generate", "lookup"])])


class ConfirmForm(FlaskForm):
    """A confirmation (withdraw everything, delete an entry): only the CSRF token."""


class DeleteReplyForm(FlaskForm):
    number = IntegerField("Reply", validators=[InputRequired(), NumberRange(1, MAX_NUMBER)])


class LoginForm(FlaskForm):
    codename = PasswordField("Codename", validators=[InputRequired()])


class SubmitForm(FlaskForm):
    msg = TextAreaField("Message")
    fh = FileField("File")


class LogEntryForm(FlaskForm):
    when = StringField()
    where = StringField()
    present = TextAreaField()
    what = TextAreaField()
    witnesses = TextAreaField()


class ConversationForm(FlaskForm):
    channel = StringField()
    contact = TextAreaField()
    times = TextAreaField()
