"""Ombuds accounts: server-generated passphrases, TOTP with replay protection, throttling."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from securedrop_lite.auth import (
    PassphraseCheck,
    matching_step,
    new_totp_secret,
    provisioning_uri,
)
from securedrop_lite.codename import CodenameGenerator
from securedrop_lite.db import Database
from securedrop_lite.models import LoginAttempt, User
from securedrop_lite.onion.keys import ClientKeyPair

THROTTLE_WINDOW = timedelta(minutes=1)
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,31}")


LAST_ADMIN = "The instance must keep at least one admin."


def _another_admin_remains(user_id: int) -> ColumnElement[bool]:
    """True while some admin other than user_id exists, checked inside the changing statement.

    One statement: two admins demoting each other at once cannot both succeed.
    """
    other = aliased(User)  # not correlated with the row being changed
    others = (
        select(func.count())
        .select_from(other)
        .where(other.is_admin, other.id != user_id)
        .scalar_subquery()
    )
    return others > 0


class LoginRefused(Exception):
    """Wrong name, passphrase or code, a reused code, or too many attempts: never which."""


class AccountError(Exception):
    """An account change cannot be made; the message says why."""


class CodeRejected(Exception):
    """The code does not match the new two-factor secret."""


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    is_admin: bool
    has_onion_key: bool
    # Changes when the account's credentials or role change: older sessions stop working.
    session_epoch: str


@dataclass(frozen=True)
class NewCredentials:
    """Shown once to the new user: the passphrase and the TOTP secret are not kept in clear."""

    username: str
    passphrase: str
    totp_secret: str
    totp_uri: str
    is_admin: bool
    # The private half of the user's Tor client-authorization key for the ombuds onion
    # service (base32); the server keeps only the public half.
    onion_private_key: str


def _account(user: User) -> Account:
    return Account(
        user.id, user.username, user.is_admin, user.onion_client_key is not None, user.session_epoch
    )


def _new_epoch() -> str:
    return secrets.token_hex(16)


class UserService:
    def __init__(
        self,
        db: Database,
        passphrases: CodenameGenerator,
        check: PassphraseCheck,
        clock: Callable[[], datetime],
        attempts_per_minute: int,
        issuer: Callable[[], str],
    ) -> None:
        self.db = db
        self.passphrases = passphrases
        self.check = check
        self.clock = clock
        self.attempts_per_minute = attempts_per_minute
        self.issuer = issuer  # the organization name, which admins may change

    def add(self, username: str, is_admin: bool = False) -> NewCredentials:
        """Create an account with a generated passphrase and TOTP secret."""
        username = username.strip().lower()
        if not USERNAME_PATTERN.fullmatch(username):
            raise AccountError(
                "A username is 2 to 32 characters: lowercase letters, digits, '.', '_' or '-'."
            )
        passphrase = self.passphrases.generate()
        secret = new_totp_secret()
        onion_key = ClientKeyPair.generate()
        user = User(
            username=username,
            passphrase_hash=self.check.hash(passphrase),
            totp_secret=secret,
            is_admin=is_admin,
            session_epoch=_new_epoch(),
            created_on=self.clock().date(),
            onion_client_key=onion_key.public,
        )
        try:
            with self.db.session() as s:
                s.add(user)
        except IntegrityError as exc:
            raise AccountError(f"There is already a user named {username}.") from exc
        uri = provisioning_uri(secret, username, self.issuer())
        return NewCredentials(username, passphrase, secret, uri, is_admin, onion_key.private)

    def authenticate(self, username: str, passphrase: str, code: str) -> Account:
        """Return the account if all is right, or raise LoginRefused."""
        now = self.clock()
        username = username.strip().lower()[:64]
        # Throttling is per name, known or not: both cost the same write and the same hash.
        admitted = self._admit_attempt(username, now)
        with self.db.session() as s:
            user = s.scalars(select(User).where(User.username == username)).one_or_none()
        if user is None or not admitted:
            self.check.verify(None, passphrase)
            raise LoginRefused
        step = matching_step(user.totp_secret, code, now)
        if not self.check.verify(user.passphrase_hash, passphrase) or step is None:
            raise LoginRefused
        with self.db.session() as s:
            # Compare-and-set: a code is accepted once, even when two logins race with it.
            result = s.execute(
                update(User)
                .where(User.id == user.id, User.last_totp_step < step)
                .values(last_totp_step=step)
            )
            accepted = result.rowcount == 1  # type: ignore[attr-defined]
            if accepted:
                s.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
                if self.check.needs_rehash(user.passphrase_hash):
                    self._user(s, user.id).passphrase_hash = self.check.hash(passphrase)
        if not accepted:
            raise LoginRefused  # a reused code: the attempt stays counted
        return _account(user)

    def reauthenticate(self, user_id: int, passphrase: str, code: str) -> Account:
        """Check a logged-in user's passphrase and a fresh code again, before a sensitive change."""
        account = self.get(user_id)
        if account is None:
            raise LoginRefused
        return self.authenticate(account.username, passphrase, code)

    def _admit_attempt(self, username: str, now: datetime) -> bool:
        """Record this attempt if the last sixty seconds hold fewer than the limit.

        The attempt is counted before the passphrase is checked, so parallel guesses
        cannot slip past the limit while earlier ones are being verified. Refused
        attempts are not recorded: hammering does not lock the owner out for longer.
        """
        with self.db.session() as s:
            # Count-then-insert must be atomic: SQLite serializes writers from this DELETE
            # on; PostgreSQL needs the lock, or parallel guesses would each count the same.
            self.db.serialize(s, f"login-attempts:{username}")
            s.execute(
                delete(LoginAttempt).where(LoginAttempt.attempted_at <= now - THROTTLE_WINDOW)
            )
            recent = s.scalar(
                select(func.count(LoginAttempt.id)).where(LoginAttempt.username == username)
            )
            if (recent or 0) >= self.attempts_per_minute:
                return False
            s.add(LoginAttempt(username=username, attempted_at=now))
        return True

    def find(self, username: str) -> Account:
        with self.db.session() as s:
            user = s.scalars(select(User).where(User.username == username.strip().lower()))
            found = user.one_or_none()
            if found is None:
                raise AccountError(f"There is no user named {username}.")
            return _account(found)

    def get(self, user_id: int) -> Account | None:
        with self.db.session() as s:
            user = s.get(User, user_id)
            return None if user is None else _account(user)

    def for_session(self, user_id: int, epoch: str) -> Account | None:
        """Return the account a session belongs to, unless it changed since that login."""
        account = self.get(user_id)
        if account is None or not secrets.compare_digest(account.session_epoch, epoch):
            return None
        return account

    def list(self) -> list[Account]:
        with self.db.session() as s:
            return [_account(u) for u in s.scalars(select(User).order_by(User.username))]

    def onion_clients(self) -> dict[str, str]:
        """Return each username's public client key: who may reach the ombuds onion service."""
        with self.db.session() as s:
            rows = s.execute(
                select(User.username, User.onion_client_key).where(
                    User.onion_client_key.isnot(None)
                )
            )
            return {name: key for name, key in rows if key is not None}

    def new_onion_key(self, user_id: int) -> str:
        """Replace the account's Tor client key; return the new private half, shown once."""
        pair = ClientKeyPair.generate()
        with self.db.session() as s:
            self._user(s, user_id).onion_client_key = pair.public
        return pair.private

    def reset_passphrase(self, user_id: int) -> str:
        """Give the account a new generated passphrase and return it, to be shown once."""
        passphrase = self.passphrases.generate()
        with self.db.session() as s:
            user = self._user(s, user_id)
            user.passphrase_hash = self.check.hash(passphrase)
            user.session_epoch = _new_epoch()
        return passphrase

    def new_totp(self, user_id: int) -> tuple[str, str]:
        """Draw a new secret and its URI; nothing is saved until confirm_totp proves it."""
        account = self.get(user_id)
        if account is None:
            raise AccountError("There is no such user.")
        secret = new_totp_secret()
        return secret, provisioning_uri(secret, account.username, self.issuer())

    def totp_uri(self, user_id: int, secret: str) -> str:
        account = self.get(user_id)
        if account is None:
            raise AccountError("There is no such user.")
        return provisioning_uri(secret, account.username, self.issuer())

    def confirm_totp(self, user_id: int, secret: str, code: str) -> None:
        """Replace the account's TOTP secret with one that the code proves is enrolled."""
        step = matching_step(secret, code, self.clock())
        if step is None:
            raise CodeRejected
        with self.db.session() as s:
            user = self._user(s, user_id)
            user.totp_secret = secret
            user.last_totp_step = step  # the code that proved it cannot also log in
            user.session_epoch = _new_epoch()

    def set_admin(self, user_id: int, is_admin: bool) -> None:
        with self.db.session() as s:
            self._user(s, user_id)
            query = update(User).where(User.id == user_id)
            if not is_admin:
                query = query.where(_another_admin_remains(user_id))
            result = s.execute(query.values(is_admin=is_admin, session_epoch=_new_epoch()))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise AccountError(LAST_ADMIN)

    def delete(self, user_id: int) -> None:
        with self.db.session() as s:
            self._user(s, user_id)
            result = s.execute(
                delete(User).where(
                    User.id == user_id, User.is_admin.is_(False) | _another_admin_remains(user_id)
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise AccountError(LAST_ADMIN)

    @staticmethod
    def _user(s: Session, user_id: int) -> User:
        user = s.get(User, user_id)
        if user is None:
            raise AccountError("There is no such user.")
        return user
