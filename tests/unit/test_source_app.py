"""The source app through Flask's test client: routes, rules, errors and headers."""

from __future__ import annotations

import io
import os
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from securedrop_lite.config import Config
from securedrop_lite.models import Source, Submission, WebSession
from securedrop_lite.onion import read_address
from securedrop_lite.services import Services, build_services
from securedrop_lite.web.headers import SECURITY_HEADERS
from securedrop_lite.web.session import COOKIE_NAME
from source_interface import create_app
from tests.conftest import FrozenClock, SourceActions, csrf_token, make_submission_key_unusable

ROUTES = ["/", "/generate", "/login", "/lookup", "/logout", "/public-key", "/metadata",
          "/robots.txt", "/static/style.css", "/no-such-page", "/create", "/submit"]  # fmt: skip


def assert_secure_headers(response: Any) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.request.path)
    for name in ("ETag", "Last-Modified", "Server", "X-Powered-By"):
        assert name not in response.headers, (name, response.request.path)
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert b"<script" not in response.get_data().lower()
    response.close()


def _items(services: Services) -> list[Submission]:
    with services.db.session() as s:
        return list(s.scalars(select(Submission).order_by(Submission.id)))


def _store_files(config: Config) -> list[str]:
    return sorted(p.name for p in config.store_dir.rglob("*.gpg"))


@pytest.mark.parametrize("path", ROUTES)
def test_every_route_carries_the_full_header_set(client: Any, path: str) -> None:
    assert_secure_headers(client.get(path))


def test_error_and_redirect_responses_carry_the_header_set(
    source: SourceActions, client: Any
) -> None:
    assert_secure_headers(client.post("/create"))  # CSRF failure: 400
    assert_secure_headers(client.get("/lookup"))  # redirect to /login
    assert_secure_headers(client.delete("/"))  # 405
    source.signup()
    assert_secure_headers(client.post("/submit", data={"msg": "x"}))  # CSRF failure
    assert_secure_headers(client.get("/generate"))  # redirect to /lookup when logged in


def test_robots_txt_disallows_everything(client: Any) -> None:
    assert client.get("/robots.txt").get_data(as_text=True) == "User-agent: *\nDisallow: /\n"


def test_metadata_reports_the_instance(client: Any, config: Config) -> None:
    data = client.get("/metadata").get_json()
    assert data["organization"] == "Test Ombuds Office"
    assert data["submission_key_fingerprint"] == config.submission_key_fingerprint
    assert data["allow_uploads"] is True
    assert data["max_upload_bytes"] == 500 * 1024 * 1024
    # The address of the source service's own key, made at `sdlite init`.
    assert data["onion_address"] == read_address(config.onion_dir / "source")
    assert data["onion_address"].endswith(".onion")
    assert len(data["onion_address"]) == 62
    assert data["submission_key_usable"] is True
    assert data["sdlite_version"]


def test_public_key_is_the_armored_submission_key(client: Any) -> None:
    response = client.get("/public-key")
    assert response.mimetype == "application/pgp-keys"
    assert response.get_data(as_text=True).startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert "PRIVATE" not in response.get_data(as_text=True)


def test_landing_page_explains_the_ombuds_and_safety(client: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    for phrase in ("does not give legal advice", "not</strong> formal notice", "Tor Browser",
                   "codename", "/generate", "/login"):  # fmt: skip
        assert phrase in page


def test_generate_shows_a_new_codename_each_time(source: SourceActions) -> None:
    first, second = source.generate(), source.generate()
    assert first != second
    assert len(first.split()) == 7
    assert "Write it down" in source.last_page


def test_create_without_a_generated_codename_asks_for_one(client: Any) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/create", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/generate")


def test_bad_csrf_token_gets_a_clear_page(source: SourceActions, client: Any) -> None:
    source.generate()
    response = client.post("/create", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    source.signup()
    response = client.post("/submit", data={"msg": "no token"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


def test_returning_source_logs_in_and_sees_submissions_acknowledged(
    source: SourceActions, client: Any
) -> None:
    codename = source.signup()
    assert source.submit("first message").status_code == 302
    client.get("/logout")
    assert client.get("/lookup").status_code == 302
    response = source.login(codename)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/lookup")
    page = client.get("/lookup").get_data(as_text=True)
    assert "You have sent 1 item" in page
    assert "There are no replies yet" in page


def test_login_accepts_the_codename_typed_in_upper_case(source: SourceActions) -> None:
    codename = source.signup()
    source.client.get("/logout")
    assert source.login("  " + codename.upper() + " ").status_code == 302


def test_wrong_codename_gets_a_generic_error(source: SourceActions) -> None:
    source.signup()
    source.client.get("/logout")
    wrong = source.login("abacus " * 7)
    malformed = source.login("not a codename")
    for response in (wrong, malformed):
        assert response.status_code == 401
        assert "that codename was not recognized" in response.get_data(as_text=True)
    assert source.client.get("/lookup").status_code == 302


@pytest.mark.parametrize(
    "typed",
    ["x" * 100_000, "abacus " * 50, "abacus abacus abacus", "<script>", "abacus " * 6 + "zzzz"],
)
def test_malformed_codename_is_refused_without_running_the_kdf(
    source: SourceActions, services: Services, monkeypatch: pytest.MonkeyPatch, typed: str
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(services.sources.kdf, "_derive", lambda *a: calls.append("kdf"))
    assert source.login(typed).status_code == 401
    assert calls == []


def test_lookup_requires_a_login(client: Any) -> None:
    response = client.get("/lookup")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    assert client.post("/submit", data={"msg": "x"}).status_code == 302


def test_session_cookie_holds_only_a_random_token(source: SourceActions) -> None:
    codename = source.signup()
    cookie = source.client.get_cookie(COOKIE_NAME)
    assert cookie is not None
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie.value)
    assert cookie.http_only
    assert cookie.same_site == "Strict"
    for word in codename.split():
        assert word not in cookie.value


def test_login_issues_a_new_session_token(source: SourceActions) -> None:
    codename = source.signup()
    source.client.get("/login")
    before = source.client.get_cookie(COOKIE_NAME).value
    source.login(codename)
    assert source.client.get_cookie(COOKIE_NAME).value != before


def test_logout_ends_the_server_side_session(source: SourceActions, services: Services) -> None:
    source.signup()
    token = source.client.get_cookie(COOKIE_NAME).value
    page = source.client.get("/logout").get_data(as_text=True)
    assert "New Identity" in page
    with services.db.session() as s:
        assert list(s.scalars(select(WebSession))) == []
    source.client.set_cookie(COOKIE_NAME, token)
    assert source.client.get("/lookup").status_code == 302


def test_session_expires_after_its_absolute_lifetime(
    source: SourceActions, clock: FrozenClock
) -> None:
    source.signup()
    assert source.client.get("/lookup").status_code == 200
    clock.advance(timedelta(hours=2, seconds=1))
    assert source.client.get("/lookup").status_code == 302


def test_message_and_file_are_stored_as_two_encrypted_items(
    source: SourceActions, services: Services, config: Config
) -> None:
    source.signup()
    response = source.submit("what happened on set", (os.urandom(5000), "Call sheet 12.pdf"))
    assert response.status_code == 302
    items = _items(services)
    assert [(i.number, i.kind) for i in items] == [(1, "msg"), (2, "doc")]
    with services.db.session() as s:
        designation = s.scalars(select(Source.designation)).one().replace(" ", "-")
    assert _store_files(config) == [f"1-{designation}-msg.gpg", f"2-{designation}-doc.gpg"]
    everything = b"".join(p.read_bytes() for p in config.store_dir.rglob("*") if p.is_file())
    assert b"Call sheet" not in everything
    assert b"what happened" not in everything
    assert all(i.created_on.isoformat() == "2026-11-22" for i in items)


def test_numbers_keep_counting_across_submissions(
    source: SourceActions, services: Services
) -> None:
    source.signup()
    for text in ("one", "two", "three"):
        source.submit(text)
    assert [i.number for i in _items(services)] == [1, 2, 3]


def test_empty_submission_is_refused_with_a_message(
    source: SourceActions, services: Services
) -> None:
    source.signup()
    for response in (source.submit("   \n"), source.submit("", (b"", ""))):
        assert response.status_code == 400
        assert "Please write a message or choose a file" in response.get_data(as_text=True)
    assert _items(services) == []


def test_overlong_message_is_refused(source: SourceActions, services: Services) -> None:
    source.signup()
    response = source.submit("x" * 100_001)
    assert response.status_code == 400
    assert "too long" in response.get_data(as_text=True)
    assert source.submit("x" * 100_000).status_code == 302


def _app_with(config: Config, clock: FrozenClock, **changes: Any) -> tuple[Any, Services]:
    """Build services and app from the config with changed settings, as a restart would."""
    changed = replace(config, **changes)
    services = build_services(changed, clock)
    return create_app(changed, services), services


def test_uploads_can_be_turned_off(
    config: Config, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, services = _app_with(config, clock, allow_uploads=False)
    actions = SourceActions(app.test_client())
    actions.signup()
    assert 'type="file"' not in actions.client.get("/lookup").get_data(as_text=True)
    started = []
    monkeypatch.setattr(services.submissions, "begin_upload", lambda name: started.append(name))
    response = actions.submit("msg", (b"data", "a.pdf"))
    assert response.status_code == 400
    assert "accepts messages only" in response.get_data(as_text=True)
    assert _items(services) == []
    assert started == []  # the refused file was never encrypted or staged


def test_two_files_in_one_request_are_refused(source: SourceActions, services: Services) -> None:
    source.signup()
    page = source.client.get("/lookup").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "msg": "hi",
            "fh": [(io.BytesIO(b"one"), "1.txt"), (io.BytesIO(b"two"), "2.txt")]}  # fmt: skip
    response = source.client.post("/submit", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "one file at a time" in response.get_data(as_text=True)
    assert _items(services) == []


def test_malformed_multipart_gets_a_400_page(source: SourceActions, services: Services) -> None:
    source.signup()
    multipart = "multipart/form-data; boundary=xyz"
    bodies = [
        b'--xyz\r\nContent-Disposition: form-data; name="msg"\r\n\r\nhi',
        b"garbage without any boundary at all",
        b"--xyz\r\nno headers end",
    ]
    for body in bodies:
        response = source.client.post("/submit", data=body, content_type=multipart)
        assert response.status_code == 400, body
        assert b"Traceback" not in response.get_data()
    assert _items(services) == []


def test_oversized_upload_gets_413_and_earlier_submissions_stay_intact(
    config: Config, clock: FrozenClock
) -> None:
    app, services = _app_with(config, clock, max_upload_bytes=100_000)
    actions = SourceActions(app.test_client())
    actions.signup()
    assert actions.submit("kept", (os.urandom(90_000), "fits.bin")).status_code == 302
    before = {p.name: p.read_bytes() for p in config.store_dir.rglob("*.gpg")}
    response = actions.submit("lost", (os.urandom(150_000), "too-big.bin"))
    assert response.status_code == 413
    assert_secure_headers(response)
    assert "Request Entity Too Large" in response.get_data(as_text=True)
    after = {p.name: p.read_bytes() for p in config.store_dir.rglob("*.gpg")}
    assert after == before
    assert len(_items(services)) == 2
    assert list((config.store_dir / ".staging").iterdir()) == []


def test_tor2web_requests_are_refused_with_an_explanation(client: Any) -> None:
    response = client.get("/", headers={"X-tor2web": "1"})
    assert response.status_code == 403
    assert "Tor2Web" in response.get_data(as_text=True)
    assert_secure_headers(response)


def test_sources_get_an_offline_page_when_the_key_is_missing(
    config: Config, services: Services, client: Any
) -> None:
    import shutil

    shutil.rmtree(config.gpg_home)
    for path in ("/", "/generate", "/login", "/lookup", "/public-key"):
        response = client.get(path)
        assert response.status_code == 503, path
        assert "Temporarily unavailable" in response.get_data(as_text=True)
        assert_secure_headers(response)
    assert client.get("/metadata").get_json()["submission_key_usable"] is False
    log = config.admin_log_path.read_text()
    assert "source interface offline" in log
    assert "does not exist" in log
    assert len(log.splitlines()) == 1  # logged once per change, not per request
    assert re.match(r"^\d{4}-\d{2}-\d{2} ERROR", log)  # dated to the day only


def test_sources_get_an_offline_page_when_the_key_has_expired(
    services: Services, client: Any, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_submission_key_unusable(services, clock, monkeypatch)
    assert client.get("/generate").status_code == 503


def test_no_exception_text_reaches_the_page(
    source: SourceActions, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    source.signup()

    def explode(*args: object) -> None:
        raise RuntimeError("secret internal detail /srv/path")

    monkeypatch.setattr(services.sources, "summary", explode)
    response = source.client.get("/lookup")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "secret internal detail" not in body
    assert "Traceback" not in body
    assert_secure_headers(response)


def test_templates_hold_no_script_and_no_external_resource() -> None:
    templates = Path(create_app.__code__.co_filename).parent / "templates"
    pages = sorted(templates.glob("*.html"))
    assert len(pages) >= 8
    external = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:[a-z]+:)?//""", re.IGNORECASE)
    for page in pages:
        text = page.read_text()
        assert "<script" not in text.lower(), page.name
        assert not external.search(text), page.name
        assert "@import" not in text, page.name
    css = (templates.parent / "static" / "style.css").read_text()
    assert "url(" not in css
    assert "@import" not in css


def test_a_failed_encryption_gets_a_clear_page_and_keeps_nothing(
    source: SourceActions, services: Services, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from securedrop_lite.crypto import EncryptionError

    source.signup()

    def broken(*args: object) -> None:
        raise EncryptionError("gpg: disk full")

    monkeypatch.setattr(services.key, "encrypt", broken)
    response = source.submit("will not be kept", (os.urandom(10_000), "a.bin"))
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "nothing of it was kept" in body
    assert "disk full" not in body
    assert _items(services) == []
    assert _store_files(config) == []
    assert list((config.store_dir / ".staging").iterdir()) == []
