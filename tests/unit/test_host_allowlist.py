"""Each app answers only for its own onion address and for loopback; others get a 400 page."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from securedrop_lite.config import Config
from securedrop_lite.models import WebSession
from securedrop_lite.onion import read_address
from securedrop_lite.services import Services

FOREIGN_HOSTS = [
    "evil.example",
    "attacker.example:8080",
    "10.0.0.5",
    "127.0.0.1.nip.io",
    "localhost.evil.example",
    "x" * 55 + "d.onion",  # some other onion service
]


def _get(client: Any, host: str, path: str = "/") -> Any:
    return client.get(path, headers={"Host": host})


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_source_app_refuses_other_hosts_with_a_400_page(client: Any, host: str) -> None:
    response = _get(client, host)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "This site does not answer to that address." in text
    assert "Traceback" not in text
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_ombuds_app_refuses_other_hosts_with_a_400_page(journalist_app: Any, host: str) -> None:
    response = _get(journalist_app.test_client(), host, "/login")
    assert response.status_code == 400
    assert "This site does not answer to that address." in response.get_data(as_text=True)


def test_source_app_answers_for_its_onion_address_and_loopback(client: Any, config: Config) -> None:
    onion = read_address(config.onion_dir / "source")
    assert onion is not None
    for host in (onion, f"{onion}:80", "localhost", "127.0.0.1:8080"):
        assert _get(client, host).status_code == 200, host


def test_each_app_refuses_the_other_apps_onion_address(
    client: Any, journalist_app: Any, config: Config
) -> None:
    source_onion = read_address(config.onion_dir / "source")
    ombuds_onion = read_address(config.onion_dir / "ombuds")
    assert source_onion
    assert ombuds_onion
    assert _get(client, ombuds_onion).status_code == 400
    ombuds = journalist_app.test_client()
    assert _get(ombuds, source_onion, "/login").status_code == 400
    assert _get(ombuds, ombuds_onion, "/login").status_code == 200


def test_a_request_without_a_host_header_is_refused(client: Any) -> None:
    response = client.get("/", environ_overrides={"HTTP_HOST": ""})
    assert response.status_code == 400


def test_a_refused_host_starts_no_session(client: Any, services: Services) -> None:
    # Choosing a language starts a server-side session; under a foreign Host nothing runs.
    refused = client.get("/lang/es", headers={"Host": "evil.example"})
    assert refused.status_code == 400
    with services.db.session() as s:
        assert s.scalar(select(func.count(WebSession.token_hash))) == 0
    assert client.get("/lang/es").status_code == 302
    with services.db.session() as s:
        assert s.scalar(select(func.count(WebSession.token_hash))) == 1
