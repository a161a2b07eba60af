"""Brute force over real HTTP: guesses are throttled as configured, and other people go on.

A codename guesser is held to `codename_attempts_per_minute` per browser session; a
passphrase guesser to `login_attempts_per_minute` per ombuds account. Meanwhile another
source logs in and submits, and another ombuds user logs in, without being refused.
No timing is asserted: the machine is shared; what is counted is who got through.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import func, select

from securedrop_lite.models import LoginAttempt
from securedrop_lite.services import Services
from tests.conftest import HttpOmbuds, HttpSource, LiveServer, add_user, csrf_token

CODENAME_LIMIT = 5  # codename_attempts_per_minute, by default
LOGIN_LIMIT = 5  # login_attempts_per_minute, by default
GUESSES = 24
WRONG = "abacus abdomen abdominal abide abiding ability ablaze"


def _minutes_touched(started: float, ended: float) -> int:
    """How many clock minutes (the throttle's fixed windows) a burst touched."""
    return int(ended // 60) - int(started // 60) + 1


def _burst(guess: Callable[[], int], count: int) -> tuple[list[int], float, float]:
    started = time.time()
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda _: guess(), range(count)))
    return statuses, started, time.time()


def _session_with_cookie(url: str) -> tuple[dict[str, str], str]:
    """A browser session's cookie and CSRF token, shared by every guess of one attacker."""
    browser = requests.Session()
    page = browser.get(url + "/login", timeout=60).text
    return browser.cookies.get_dict(), csrf_token(page)


def test_codename_guessing_is_throttled_per_session_and_other_sources_go_on(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    source_server, _ = servers
    url = source_server.url
    owner = HttpSource(url)
    codename = owner.signup()
    working = HttpSource(url)
    working.signup()
    cookies, token = _session_with_cookie(url)

    def guess() -> int:
        response = requests.post(
            url + "/login",
            data={"csrf_token": token, "codename": WRONG},
            cookies=cookies,
            allow_redirects=False,
            timeout=120,
        )
        if response.status_code == 429:
            assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert "Traceback" not in response.text
        return response.status_code

    with ThreadPoolExecutor(max_workers=1) as others:
        attack = others.submit(_burst, guess, GUESSES)
        # While the guesses arrive: a source already in submits, the owner logs in afresh.
        assert working.submit("a message sent during the attack").status_code == 302
        assert HttpSource(url).login(codename).status_code == 302
        statuses, started, ended = attack.result()

    assert set(statuses) <= {401, 429}, statuses
    admitted = statuses.count(401)
    assert admitted <= CODENAME_LIMIT * _minutes_touched(started, ended)
    assert statuses.count(429) >= GUESSES - CODENAME_LIMIT * _minutes_touched(started, ended)
    # Another session of the same attacker starts its own count: it is not locked out
    # with the first one, and neither is anybody else.
    assert HttpSource(url).login(WRONG).status_code == 401


def test_ombuds_logins_are_throttled_per_account_and_other_users_go_on(
    servers: tuple[LiveServer, LiveServer], data_dir: Path, services: Services
) -> None:
    source_server, ombuds_server = servers
    dana = add_user(data_dir)
    erin = services.users.add("erin")
    working = HttpSource(source_server.url)
    working.signup()

    def guess() -> int:
        attacker = HttpOmbuds(ombuds_server.url)
        form = {"username": "dana", "passphrase": "not her passphrase", "token": "123456"}
        response = attacker.post("/login", form, page="/login")
        assert "Traceback" not in response.text
        return response.status_code

    statuses, started, ended = _burst(guess, GUESSES)
    assert set(statuses) == {401}, statuses  # throttled or wrong: the answer is the same
    with services.db.session() as s:
        counted = s.scalar(
            select(func.count(LoginAttempt.id)).where(LoginAttempt.username == "dana")
        )
    # Only admitted attempts are recorded; the limit holds under parallel guesses.
    if ended - started < 60:
        assert counted == LOGIN_LIMIT
    else:
        assert counted is not None
        assert counted <= LOGIN_LIMIT * 2
    # Dana's own right passphrase is refused until the minute passes; Erin logs in, and a
    # source submits, as if nothing happened.
    dana_login = HttpOmbuds(ombuds_server.url).login(dana)
    if time.time() - started < 55:  # her attempts are still within the last minute
        assert dana_login.status_code == 401
    erin_login = HttpOmbuds(ombuds_server.url).login(
        {"username": erin.username, "passphrase": erin.passphrase, "totp_secret": erin.totp_secret}
    )
    assert erin_login.status_code == 302
    assert working.submit("a message sent after the attack").status_code == 302
