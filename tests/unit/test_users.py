"""Ombuds accounts: generated passphrases, Argon2id, TOTP with replay protection, throttling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from securedrop_lite.auth import (
    PassphraseCheck,
    matching_step,
    new_totp_secret,
    normalize_passphrase,
    totp_code,
)
from securedrop_lite.models import LoginAttempt, User
from securedrop_lite.services import Services
from securedrop_lite.services.users import (
    AccountError,
    CodeRejected,
    LoginRefused,
    NewCredentials,
    UserService,
)
from tests.conftest import FrozenClock

STEP = timedelta(seconds=30)


def _code(services: Services, secret: str, offset: timedelta = timedelta(0)) -> str:
    """Return the code an authenticator app shows at the service's now, plus offset."""
    return totp_code(secret, services.clock() + offset)


def _login(services: Services, new: NewCredentials, passphrase: str | None = None) -> None:
    """Log in with the account's passphrase (or another one) and the code of this instant."""
    services.users.authenticate(
        new.username, passphrase or new.passphrase, _code(services, new.totp_secret)
    )


def _stored(services: Services, username: str) -> User:
    with services.db.session() as s:
        return s.scalars(select(User).where(User.username == username)).one()


def _refusal(action: object) -> LoginRefused:
    """Run a login attempt that must be refused, and return the exception it raised."""
    with pytest.raises(LoginRefused) as refused:
        action()  # type: ignore[operator]
    return refused.value


# --- accounts -------------------------------------------------------------------------


def test_add_returns_a_generated_passphrase_of_at_least_seven_words(services: Services) -> None:
    new = services.users.add("alice")
    assert new.username == "alice"
    assert len(new.passphrase.split()) >= 7
    assert new.is_admin is False


def test_add_returns_a_totp_secret_and_its_otpauth_uri(services: Services) -> None:
    new = services.users.add("alice")
    uri = urlparse(new.totp_uri)
    query = parse_qs(uri.query)
    assert uri.scheme == "otpauth"
    assert uri.netloc == "totp"
    assert query["secret"] == [new.totp_secret]
    assert query["issuer"] == [services.config.organization_name]
    assert "alice" in uri.path
    assert len(new.totp_secret) >= 32  # 160 bits of base32


def test_two_accounts_get_different_passphrases_and_secrets(services: Services) -> None:
    alice, bob = services.users.add("alice"), services.users.add("bob")
    assert alice.passphrase != bob.passphrase
    assert alice.totp_secret != bob.totp_secret


def test_stored_hash_is_argon2id_and_never_the_passphrase(services: Services) -> None:
    new = services.users.add("alice")
    stored = _stored(services, "alice").passphrase_hash
    assert stored.startswith("$argon2id$")
    assert new.passphrase not in stored
    assert normalize_passphrase(new.passphrase) not in stored
    assert not any(word in stored for word in new.passphrase.split() if len(word) > 3)


def test_usernames_are_stored_in_lower_case(services: Services) -> None:
    new = services.users.add("  Alice ")
    assert new.username == "alice"
    assert [a.username for a in services.users.list()] == ["alice"]


def test_duplicate_usernames_are_refused(services: Services) -> None:
    services.users.add("alice")
    with pytest.raises(AccountError):
        services.users.add("ALICE")
    assert len(services.users.list()) == 1


@pytest.mark.parametrize(
    "username",
    ["", "a", "a" * 33, "al ice", "../alice", "alice/bob", "-alice", ".alice", "élise", "al\nice"],
)
def test_invalid_usernames_are_refused(services: Services, username: str) -> None:
    with pytest.raises(AccountError):
        services.users.add(username)
    assert services.users.list() == []


def test_list_and_get_show_accounts_without_secrets(services: Services) -> None:
    services.users.add("bob")
    alice = services.users.add("alice", is_admin=True)
    accounts = services.users.list()
    assert [(a.username, a.is_admin) for a in accounts] == [("alice", True), ("bob", False)]
    assert services.users.get(accounts[0].id) == accounts[0]
    assert services.users.get(10_000) is None
    assert alice.passphrase not in repr(accounts)


# --- logging in -----------------------------------------------------------------------


def test_authenticate_succeeds_with_name_passphrase_and_current_code(services: Services) -> None:
    new = services.users.add("alice")
    account = services.users.authenticate("alice", new.passphrase, _code(services, new.totp_secret))
    assert account.username == "alice"
    assert account.id == services.users.list()[0].id


def test_authenticate_accepts_the_username_in_any_case_and_a_passphrase_with_stray_spaces(
    services: Services,
) -> None:
    new = services.users.add("alice")
    typed = "  " + "  ".join(new.passphrase.upper().split()) + " "
    account = services.users.authenticate(" Alice ", typed, _code(services, new.totp_secret))
    assert account.username == "alice"


@pytest.mark.parametrize("offset", [-STEP, STEP])
def test_a_code_from_one_step_before_or_after_is_accepted(
    services: Services, offset: timedelta
) -> None:
    new = services.users.add("alice")
    account = services.users.authenticate(
        "alice", new.passphrase, _code(services, new.totp_secret, offset)
    )
    assert account.username == "alice"


@pytest.mark.parametrize("offset", [-2 * STEP, 2 * STEP])
def test_a_code_from_two_steps_before_or_after_is_refused(
    services: Services, offset: timedelta
) -> None:
    new = services.users.add("alice")
    with pytest.raises(LoginRefused):
        services.users.authenticate(
            "alice", new.passphrase, _code(services, new.totp_secret, offset)
        )


def test_unknown_username_is_refused(services: Services) -> None:
    new = services.users.add("alice")
    with pytest.raises(LoginRefused):
        services.users.authenticate("mallory", new.passphrase, _code(services, new.totp_secret))


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12 34 5x", "١٢٣٤٥٦"])
def test_malformed_codes_are_refused(services: Services, code: str) -> None:
    new = services.users.add("alice")
    with pytest.raises(LoginRefused):
        services.users.authenticate("alice", new.passphrase, code)


def test_wrong_passphrase_wrong_code_reused_code_and_throttling_raise_the_same_error(
    services: Services, clock: FrozenClock
) -> None:
    new = services.users.add("alice")
    right_code = _code(services, new.totp_secret)
    wrong_code = f"{(int(right_code) + 1) % 1_000_000:06d}"
    users = services.users
    refusals = [
        _refusal(lambda: users.authenticate("alice", "wrong words", right_code)),
        _refusal(lambda: users.authenticate("alice", new.passphrase, wrong_code)),
        _refusal(lambda: users.authenticate("nobody", new.passphrase, right_code)),
    ]
    users.authenticate("alice", new.passphrase, right_code)  # clears the failures
    refusals.append(_refusal(lambda: users.authenticate("alice", new.passphrase, right_code)))
    for _ in range(4):  # with the reused code, five failures this minute
        _refusal(lambda: users.authenticate("alice", "wrong words", right_code))
    clock.advance(STEP)
    refusals.append(_refusal(lambda: _login(services, new)))  # right, but throttled
    assert [type(r) for r in refusals] == [LoginRefused] * 5
    assert {(r.args, str(r)) for r in refusals} == {((), "")}


def test_totp_token_cannot_be_reused(services: Services) -> None:
    new = services.users.add("alice")
    code = _code(services, new.totp_secret)
    services.users.authenticate("alice", new.passphrase, code)
    with pytest.raises(LoginRefused):
        services.users.authenticate("alice", new.passphrase, code)


def test_a_code_older_than_the_last_accepted_one_is_refused(services: Services) -> None:
    new = services.users.add("alice")
    services.users.authenticate("alice", new.passphrase, _code(services, new.totp_secret))
    with pytest.raises(LoginRefused):
        services.users.authenticate(
            "alice", new.passphrase, _code(services, new.totp_secret, -STEP)
        )


def test_the_next_code_logs_in_after_a_used_one(services: Services, clock: FrozenClock) -> None:
    new = services.users.add("alice")
    _login(services, new)
    clock.advance(STEP)
    assert services.users.authenticate(
        "alice", new.passphrase, _code(services, new.totp_secret)
    ).username == ("alice")


def test_more_than_five_failures_a_minute_are_throttled(
    services: Services, clock: FrozenClock
) -> None:
    new = services.users.add("alice")
    for _ in range(5):
        with pytest.raises(LoginRefused):
            services.users.authenticate("alice", "wrong words", _code(services, new.totp_secret))
    with pytest.raises(LoginRefused):
        _login(services, new)
    clock.advance(timedelta(seconds=59))
    with pytest.raises(LoginRefused):
        _login(services, new)
    clock.advance(timedelta(seconds=2))
    assert services.users.authenticate(
        "alice", new.passphrase, _code(services, new.totp_secret)
    ).username == ("alice")


def test_failures_are_counted_over_any_sixty_seconds_not_per_calendar_window(
    services: Services, clock: FrozenClock
) -> None:
    """Five failures at the end of one window and more at the start of the next: throttled."""
    new = services.users.add("alice")
    with pytest.raises(LoginRefused):
        services.users.authenticate("alice", "wrong words", "000000")
    clock.advance(timedelta(seconds=59))
    for _ in range(4):
        with pytest.raises(LoginRefused):
            services.users.authenticate("alice", "wrong words", "000000")
    clock.advance(timedelta(seconds=2))  # the first failure is now over a minute old
    for _ in range(2):
        with pytest.raises(LoginRefused):
            services.users.authenticate("alice", "wrong words", "000000")
    with pytest.raises(LoginRefused):  # six failures in the last two seconds
        _login(services, new)


def test_a_throttled_login_costs_the_same_passphrase_check_as_an_unknown_name(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Otherwise the time a refusal takes tells whether the name is an account."""
    new = services.users.add("alice")
    for _ in range(5):
        with pytest.raises(LoginRefused):
            services.users.authenticate("alice", "wrong words", "000000")
    checks: list[str | None] = []
    real_verify = services.users.check.verify

    def counting_verify(stored_hash: str | None, typed: str) -> bool:
        checks.append(stored_hash)
        return real_verify(stored_hash, typed)

    monkeypatch.setattr(services.users.check, "verify", counting_verify)
    code = _code(services, new.totp_secret)
    with pytest.raises(LoginRefused):
        services.users.authenticate("nobody", new.passphrase, code)
    unknown_name_checks = len(checks)
    with pytest.raises(LoginRefused):
        services.users.authenticate("alice", new.passphrase, code)
    assert unknown_name_checks == 1
    assert len(checks) - unknown_name_checks == unknown_name_checks


def test_four_failures_do_not_throttle(services: Services) -> None:
    new = services.users.add("alice")
    for _ in range(4):
        with pytest.raises(LoginRefused):
            services.users.authenticate("alice", "wrong words", "000000")
    _login(services, new)


def test_a_successful_login_clears_the_failure_count(
    services: Services, clock: FrozenClock
) -> None:
    new = services.users.add("alice")
    for _ in range(4):
        with pytest.raises(LoginRefused):
            services.users.authenticate("alice", "wrong words", "000000")
    _login(services, new)
    for _ in range(4):
        with pytest.raises(LoginRefused):
            services.users.authenticate("alice", "wrong words", "000000")
    clock.advance(STEP)
    _login(services, new)
    with services.db.session() as s:
        assert s.scalar(select(func.count(LoginAttempt.id))) == 0


def test_throttling_one_account_does_not_affect_another(services: Services) -> None:
    alice, bob = services.users.add("alice"), services.users.add("bob")
    for _ in range(6):
        with pytest.raises(LoginRefused):
            services.users.authenticate("alice", "wrong words", "000000")
    assert services.users.authenticate(
        "bob", bob.passphrase, _code(services, bob.totp_secret)
    ).username == ("bob")
    with pytest.raises(LoginRefused):
        _login(services, alice)


def test_a_reused_code_counts_as_a_failure(services: Services, clock: FrozenClock) -> None:
    new = services.users.add("alice")
    code = _code(services, new.totp_secret)
    services.users.authenticate("alice", new.passphrase, code)
    for _ in range(5):
        with pytest.raises(LoginRefused):
            services.users.authenticate("alice", new.passphrase, code)
    clock.advance(STEP)
    with pytest.raises(LoginRefused):  # throttled, although everything is right
        _login(services, new)


def test_a_hash_with_outdated_costs_is_replaced_at_the_next_login(services: Services) -> None:
    new = services.users.add("alice")
    before = _stored(services, "alice").passphrase_hash
    costlier = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    upgraded = UserService(
        services.db,
        services.users.passphrases,
        PassphraseCheck(costlier),
        services.clock,
        services.config.login_attempts_per_minute,
        services.users.issuer,
    )
    upgraded.authenticate("alice", new.passphrase, _code(services, new.totp_secret))
    after = _stored(services, "alice").passphrase_hash
    assert after != before
    assert after.startswith("$argon2id$v=19$m=16,t=2,p=1$")
    assert not costlier.check_needs_rehash(after)


# --- resets ---------------------------------------------------------------------------


def test_reset_passphrase_makes_the_old_one_fail(services: Services, clock: FrozenClock) -> None:
    new = services.users.add("alice")
    user_id = services.users.list()[0].id
    fresh = services.users.reset_passphrase(user_id)
    assert fresh != new.passphrase
    assert len(fresh.split()) >= 7
    with pytest.raises(LoginRefused):
        _login(services, new)
    clock.advance(STEP)
    _login(services, new, passphrase=fresh)


def test_reset_passphrase_of_an_unknown_account_is_an_account_error(services: Services) -> None:
    with pytest.raises(AccountError):
        services.users.reset_passphrase(10_000)


def test_totp_reset_keeps_old_secret_until_new_one_is_verified(
    services: Services, clock: FrozenClock
) -> None:
    new = services.users.add("alice")
    user_id = services.users.list()[0].id
    secret, uri = services.users.new_totp(user_id)
    assert secret != new.totp_secret
    assert f"secret={secret}" in uri
    assert _stored(services, "alice").totp_secret == new.totp_secret  # not saved yet
    _login(services, new)  # the old code still works

    clock.advance(STEP)
    wrong = f"{(int(_code(services, secret)) + 1) % 1_000_000:06d}"
    with pytest.raises(CodeRejected):
        services.users.confirm_totp(user_id, secret, wrong)
    assert _stored(services, "alice").totp_secret == new.totp_secret
    _login(services, new)  # still the old secret

    clock.advance(STEP)
    services.users.confirm_totp(user_id, secret, _code(services, secret))
    assert _stored(services, "alice").totp_secret == secret

    clock.advance(STEP)
    with pytest.raises(LoginRefused):
        _login(services, new)  # the old secret
    clock.advance(STEP)
    services.users.authenticate("alice", new.passphrase, _code(services, secret))


def test_the_code_that_confirms_a_new_secret_cannot_also_log_in(services: Services) -> None:
    new = services.users.add("alice")
    user_id = services.users.list()[0].id
    secret, _ = services.users.new_totp(user_id)
    code = _code(services, secret)
    services.users.confirm_totp(user_id, secret, code)
    with pytest.raises(LoginRefused):
        services.users.authenticate("alice", new.passphrase, code)


def test_new_totp_for_an_unknown_account_is_an_account_error(services: Services) -> None:
    with pytest.raises(AccountError):
        services.users.new_totp(10_000)


# --- admins ---------------------------------------------------------------------------


def test_cannot_delete_the_last_admin(services: Services) -> None:
    services.users.add("root", is_admin=True)
    admin = services.users.list()[0]
    with pytest.raises(AccountError):
        services.users.delete(admin.id)
    assert services.users.get(admin.id) == admin


def test_cannot_demote_the_last_admin(services: Services) -> None:
    services.users.add("root", is_admin=True)
    admin = services.users.list()[0]
    with pytest.raises(AccountError):
        services.users.set_admin(admin.id, False)
    assert services.users.get(admin.id) == admin


def test_an_admin_can_be_deleted_or_demoted_while_another_remains(services: Services) -> None:
    services.users.add("one", is_admin=True)
    services.users.add("two", is_admin=True)
    services.users.add("three", is_admin=True)
    one, _three, two = services.users.list()
    services.users.set_admin(one.id, False)
    services.users.delete(two.id)
    assert [(a.username, a.is_admin) for a in services.users.list()] == [
        ("one", False),
        ("three", True),
    ]


def test_ombuds_accounts_are_deleted_and_promoted_freely(services: Services) -> None:
    services.users.add("root", is_admin=True)
    services.users.add("alice")
    services.users.add("bob")
    alice, bob, _root = services.users.list()
    services.users.set_admin(alice.id, True)
    services.users.delete(bob.id)
    assert [(a.username, a.is_admin) for a in services.users.list()] == [
        ("alice", True),
        ("root", True),
    ]


def test_a_deleted_account_cannot_log_in(services: Services) -> None:
    services.users.add("root", is_admin=True)
    alice = services.users.add("alice")
    services.users.delete(next(a.id for a in services.users.list() if a.username == "alice"))
    with pytest.raises(LoginRefused):
        _login(services, alice)


def test_changes_to_an_unknown_account_are_account_errors(services: Services) -> None:
    with pytest.raises(AccountError):
        services.users.delete(10_000)
    with pytest.raises(AccountError):
        services.users.set_admin(10_000, True)


# --- auth helpers ---------------------------------------------------------------------


def test_matching_step_accepts_a_code_typed_with_spaces() -> None:
    secret = new_totp_secret()
    now = datetime(2026, 11, 22, 15, 47, 13, tzinfo=UTC)
    code = totp_code(secret, now)
    assert matching_step(secret, f" {code[:3]} {code[3:]} ", now) is not None


def test_parallel_guesses_are_counted_once_each_and_no_more_are_admitted(
    services: Services,
) -> None:
    import threading

    services.users.add("dana")
    start = threading.Barrier(8)

    def guess() -> None:
        start.wait()
        for _ in range(4):
            with pytest.raises(LoginRefused):
                services.users.authenticate("dana", "wrong passphrase", "000000")

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with services.db.session() as s:
        counted = s.scalar(select(func.count(LoginAttempt.id)))
    assert counted == services.users.attempts_per_minute  # 32 guesses, 5 admitted
