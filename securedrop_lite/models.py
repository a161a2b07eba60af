"""SQLAlchemy 2.0 typed models. They hold data; services own the rules and the commits.

P4: nothing here records an IP, a user agent, or a time of day about a source. Dates
are `Date` columns; exact session expiry lives inside the session's ciphertext.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The largest value of an Integer column on every database we run on (PostgreSQL's int4):
# numbers from requests are checked against it before they reach a query.
MAX_NUMBER = 2**31 - 1


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Source(Base):
    """A worker who wrote in, known only by derivations of their codename."""

    __tablename__ = "sources"
    # The inbox order: starred first, then the latest activity.
    __table_args__ = (Index("ix_sources_inbox", "deleted", "starred", "last_activity_on", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Argon2id(codename, pepper_id), hex: how a returning source is found.
    lookup_id: Mapped[str] = mapped_column(String(64), unique=True)
    # Random name of the source's directory in the store; unrelated to the codename.
    store_dir: Mapped[str] = mapped_column(String(32), unique=True)
    designation: Mapped[str] = mapped_column(String(64), unique=True)
    # X25519 public key derived from the codename; replies are sealed to it.
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_on: Mapped[date]
    last_activity_on: Mapped[date]
    # Items (submissions and replies) numbered 1, 2, ... in the store's file names.
    item_counter: Mapped[int] = mapped_column(default=0)
    # None until the source first submits: such sources are not shown and expire after a day.
    first_submission_on: Mapped[date | None]
    # None while the source awaits a first reply from the ombuds.
    first_reply_on: Mapped[date | None]
    starred: Mapped[bool] = mapped_column(default=False)
    # Tombstone: hidden everywhere at once; `sdlite purge` (or the deleting request)
    # then overwrites the files and removes the rows.
    deleted: Mapped[bool] = mapped_column(default=False)

    submissions: Mapped[list[Submission]] = relationship(
        back_populates="source", cascade="all, delete-orphan", order_by="Submission.number"
    )
    replies: Mapped[list[Reply]] = relationship(
        back_populates="source", cascade="all, delete-orphan", order_by="Reply.number"
    )
    log_entries: Mapped[list[LogEntry]] = relationship(
        back_populates="source", cascade="all, delete-orphan", order_by="LogEntry.id"
    )


class Submission(Base):
    """One encrypted message or file from a source."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("source_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    # "msg", "doc", "log" (a shared incident-log entry) or "talk" (a conversation request);
    # log entries and requests are stored as messages (`-msg.gpg`).
    kind: Mapped[str] = mapped_column(String(8))
    file_name: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    created_on: Mapped[date]
    seen: Mapped[bool] = mapped_column(default=False)
    deleted: Mapped[bool] = mapped_column(default=False)

    source: Mapped[Source] = relationship(back_populates="submissions")


class Reply(Base):
    """A reply from the ombuds, stored sealed to the source's key and to the ombuds key."""

    __tablename__ = "replies"
    __table_args__ = (UniqueConstraint("source_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    # The copy the ombuds decrypts on the air-gapped machine.
    file_name: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    # The copy the source reads after logging in, sealed to their X25519 key.
    source_box: Mapped[bytes] = mapped_column(LargeBinary)
    created_on: Mapped[date]
    deleted: Mapped[bool] = mapped_column(default=False)

    source: Mapped[Source] = relationship(back_populates="replies")


class LogEntry(Base):
    """One version of an entry in a worker's private incident log.

    Sealed to the worker's codename-derived key with the entry's receipt inside, so the
    server can read neither the entry nor the digest its receipt signs (P2).
    """

    __tablename__ = "log_entries"
    __table_args__ = (UniqueConstraint("source_id", "entry_ref", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    # Random; names the entry in URLs, the same for all its versions.
    entry_ref: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    box: Mapped[bytes] = mapped_column(LargeBinary)
    created_on: Mapped[date]

    source: Mapped[Source] = relationship(back_populates="log_entries")


class InfoPage(Base):
    """An information page that an admin rewrote; absent rows fall back to the shipped text."""

    __tablename__ = "info_pages"
    __table_args__ = (UniqueConstraint("slug", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(8))
    markdown: Mapped[str] = mapped_column(Text)
    updated_on: Mapped[date]


class WebSession(Base):
    """A server-side session: useless without the token that only the cookie holds."""

    __tablename__ = "web_sessions"

    # SHA-256 of a key derived from the cookie token.
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # Day granularity only, for purging; the exact expiry is inside `sealed`.
    expires_on: Mapped[date] = mapped_column(index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class User(Base):
    """An ombuds or admin account: a generated passphrase and a TOTP secret."""

    __tablename__ = "users"
    # Ids are never reused: a deleted account's id must not name a newer account.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy reads it once

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # Argon2id, in the PHC string format of argon2-cffi.
    passphrase_hash: Mapped[str] = mapped_column(String(255))
    totp_secret: Mapped[str] = mapped_column(String(64))
    # The time step of the last accepted code: a code for it or an earlier step is refused.
    last_totp_step: Mapped[int] = mapped_column(default=0)
    is_admin: Mapped[bool] = mapped_column(default=False)
    # Random; replaced when the passphrase, the TOTP secret or the role changes, which
    # ends every session made before (sessions carry the epoch they were made under).
    session_epoch: Mapped[str] = mapped_column(String(32))
    created_on: Mapped[date]
    # The public half (base32) of the user's Tor client-authorization key for the ombuds
    # onion service; the private half was shown to the user once. None: no access by Tor.
    onion_client_key: Mapped[str | None] = mapped_column(String(56))


class LoginAttempt(Base):
    """A recent ombuds login attempt, under the name typed: what throttling counts.

    About ombuds logins, not sources: exact times are needed here, and they say nothing
    about who wrote in. Rows older than a minute, and a name's rows at its successful
    login, are deleted.
    """

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ThrottleCounter(Base):
    """How many attempts one key (a hashed browser session) made in the current minute.

    The key is a hash: nothing here names a source or a session the server could find
    again. Rows of past minutes are deleted as new attempts arrive.
    """

    __tablename__ = "throttle_counters"

    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # The start of the one-minute window the count belongs to.
    window: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    count: Mapped[int]


class AuditEvent(Base):
    """One line of the audit log: what kind of event, and the day. Nothing else."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(32))
    occurred_on: Mapped[date]


class InstanceSettingsRow(Base):
    """The settings admins edit in the web interface; one row, absent until first saved."""

    __tablename__ = "instance_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_name: Mapped[str] = mapped_column(String(100))
    welcome_text: Mapped[str] = mapped_column(Text)
    response_promise: Mapped[str] = mapped_column(String(200))
    allow_uploads: Mapped[bool]
    max_upload_bytes: Mapped[int] = mapped_column(BigInteger)
    retention_days: Mapped[int]
