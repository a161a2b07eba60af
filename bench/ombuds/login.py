"""An ombuds login, in-process through the test client or over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from bench.common import BenchError, csrf_token
from bench.server import Server
from securedrop_lite.auth import totp_code
from securedrop_lite.services.users import NewCredentials


def login_form(page: str, credentials: NewCredentials) -> dict[str, str]:
    # Each account logs in once: a TOTP code is accepted only once (replay protection).
    return {
        "csrf_token": csrf_token(page),
        "username": credentials.username,
        "passphrase": credentials.passphrase,
        "token": totp_code(credentials.totp_secret, datetime.now(UTC)),
    }


def log_in_test_client(client: Any, credentials: NewCredentials) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data=login_form(page, credentials))
    if response.status_code != 302:
        raise BenchError(f"test-client login answered {response.status_code}")


def log_in_http(server: Server, credentials: NewCredentials) -> requests.Session:
    browser = requests.Session()
    page = browser.get(server.url + "/login", timeout=60).text
    response = browser.post(
        server.url + "/login",
        data=login_form(page, credentials),
        allow_redirects=False,
        timeout=60,
    )
    if response.status_code != 302:
        raise BenchError(f"HTTP login answered {response.status_code}\n{server.log_text()}")
    return browser
