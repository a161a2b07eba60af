"""What an independent review of the ombuds interface found, each now a test that can fail."""

from __future__ import annotations

import io
import os
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from securedrop_lite.auth import totp_code
from securedrop_lite.filetimes import start_of_day
from securedrop_lite.models import Submission, WebSession
from securedrop_lite.services import Services
from securedrop_lite.services.inbox import Selection
from securedrop_lite.services.users import NewCredentials
from securedrop_lite.store import StoreError
from tests.conftest import FrozenClock, OmbudsActions, SourceActions, csrf_token
from tests.unit.test_inbox import _new_source

STEP = timedelta(seconds=30)


def _ombuds(app: Any, clock: FrozenClock) -> OmbudsActions:
    return OmbudsActions(app.test_client(), clock)


def _user_id(services: Services, name: str) -> int:
    return next(a.id for a in services.users.list() if a.username == name)


# --- sessions belong to one account, as it was at login ---------------------------------


def test_a_deleted_users_session_never_becomes_a_newer_account(
    journalist_app: Any, ombuds: OmbudsActions, clock: FrozenClock, services: Services
) -> None:
    bob = services.users.add("bob")
    bob_client = _ombuds(journalist_app, clock)
    assert bob_client.login(bob).status_code == 302
    bob_id = _user_id(services, "bob")
    ombuds.post(f"/admin/users/{bob_id}/delete", page="/admin/")
    services.users.add("carol", is_admin=True)
    assert _user_id(services, "carol") != bob_id
    assert bob_client.client.get("/admin/").status_code == 302


def test_an_admin_passphrase_reset_ends_that_users_sessions(
    journalist_app: Any, ombuds: OmbudsActions, clock: FrozenClock, services: Services
) -> None:
    bob = services.users.add("bob")
    bob_client = _ombuds(journalist_app, clock)
    bob_client.login(bob)
    ombuds.post(f"/admin/users/{_user_id(services, 'bob')}/passphrase", page="/admin/")
    assert bob_client.client.get("/").status_code == 302
    assert ombuds.client.get("/").status_code == 200


def test_revoking_admin_ends_that_users_sessions(
    journalist_app: Any, ombuds: OmbudsActions, clock: FrozenClock, services: Services
) -> None:
    bob = services.users.add("bob", is_admin=True)
    bob_client = _ombuds(journalist_app, clock)
    bob_client.login(bob)
    ombuds.post(f"/admin/users/{_user_id(services, 'bob')}/admin", {"grant": "0"}, page="/admin/")
    assert bob_client.client.get("/admin/").status_code == 302


def test_changing_own_passphrase_needs_the_current_passphrase_and_a_fresh_code(
    ombuds: OmbudsActions, admin_credentials: NewCredentials, clock: FrozenClock
) -> None:
    refused = ombuds.post("/account/passphrase", {"passphrase": "guess", "token": "123456"})
    assert refused.status_code == 401
    assert 'id="passphrase"' not in refused.get_data(as_text=True)
    clock.advance(STEP)
    code = totp_code(admin_credentials.totp_secret, clock())
    accepted = ombuds.post(
        "/account/passphrase",
        {"passphrase": admin_credentials.passphrase, "token": code},
        page="/account",
    )
    new = re.search(r'id="passphrase">([^<]+)<', accepted.get_data(as_text=True))
    assert new is not None
    assert ombuds.client.get("/").status_code == 200  # this session goes on


def test_a_new_authenticator_needs_the_current_passphrase_and_code_first(
    ombuds: OmbudsActions, admin_credentials: NewCredentials, clock: FrozenClock
) -> None:
    assert ombuds.client.get("/account/2fa").status_code == 302
    refused = ombuds.post("/account/2fa/start", {"passphrase": "x", "token": "000000"})
    assert refused.status_code == 401
    clock.advance(STEP)
    code = totp_code(admin_credentials.totp_secret, clock())
    started = ombuds.post(
        "/account/2fa/start", {"passphrase": admin_credentials.passphrase, "token": code}
    )
    assert started.status_code == 302
    page = ombuds.client.get("/account/2fa").get_data(as_text=True)
    assert "<svg" in page
    assert 'id="totp-secret"' in page


def test_first_login_after_an_idle_timeout_succeeds(
    ombuds: OmbudsActions, admin_credentials: NewCredentials, clock: FrozenClock
) -> None:
    clock.advance(timedelta(minutes=45))
    assert ombuds.login(admin_credentials).status_code == 302


# --- bad input gets a 4xx page ----------------------------------------------------------


def test_malformed_numbers_and_missing_fields_get_a_4xx_page(
    ombuds: OmbudsActions, source: SourceActions, services: Services
) -> None:
    source.signup()
    source.submit("hello")
    (ref,) = [r.ref for r in services.inbox.page(1).rows]
    page = source.client.get("/lookup").get_data(as_text=True)
    responses = [
        source.client.post(
            "/delete-reply", data={"csrf_token": csrf_token(page), "number": "9" * 30}
        ),
        ombuds.client.get(f"/admin/audit?page={'9' * 30}"),
        ombuds.client.get(f"/admin/users/{'9' * 30}/2fa"),
        ombuds.post("/reply", {"source": ref}),
        ombuds.client.get(f"/?page={'9' * 30}"),
    ]
    for response in responses:
        assert response.status_code in (200, 400, 404), response.status_code
        assert "Traceback" not in response.get_data(as_text=True)


def test_the_source_landing_page_writes_no_session(client: Any, services: Services) -> None:
    for _ in range(3):
        assert client.get("/").status_code == 200
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(WebSession)) == 0


def test_with_uploads_off_the_body_limit_is_the_message_size(
    ombuds: OmbudsActions, client: Any, source: SourceActions
) -> None:
    ombuds.post(
        "/admin/settings",
        {"organization_name": "Office", "max_upload_mib": "500", "retention_days": "0"},
        page="/admin/settings",
    )
    source.signup()
    page = client.get("/lookup").get_data(as_text=True)
    # Over the message-sized limit (4 x 100,000 + 64 KiB), under the 500 MiB upload limit;
    # below 500 KB so the test client keeps the body in memory.
    file = (io.BytesIO(os.urandom(470_000)), "a.bin")
    response = client.post("/submit", data={"csrf_token": csrf_token(page), "fh": file})
    assert response.status_code == 413


# --- the store and the purge ------------------------------------------------------------


def test_deleting_an_item_keeps_directory_times_to_the_day(
    services: Services, clock: FrozenClock
) -> None:
    _, ref = _new_source(services, "one", "two")
    clock.advance(timedelta(hours=5, minutes=17))
    first = services.store.item_names(ref)[0]
    services.inbox.delete_items(ref, [first])
    midnight = start_of_day(clock())
    for path in (services.store.root / ref, services.store.root):
        assert os.stat(path).st_mtime == midnight, path


def test_a_file_being_downloaded_is_not_overwritten_by_a_purge(services: Services) -> None:
    _, ref = _new_source(services, "one", "two")
    first, second = services.store.item_names(ref)
    stored = services.store.path_for(ref, first).read_bytes()
    with services.inbox.entries(ref, Selection.CHOSEN, [first]) as (entry,):
        services.inbox.delete_items(ref, [first, second])
        with entry.open() as f:
            assert f.read() == stored  # the download got the ciphertext, not random bytes
    assert services.store.item_names(ref) == [first]  # deferred, still tombstoned
    report = services.deletion.purge()
    assert (report.items, report.failed) == (1, 0)
    assert services.store.item_names(ref) == []


def test_a_stuck_folder_defers_its_purge_and_spares_the_rest(services: Services) -> None:
    _, stuck = _new_source(services, "stuck")
    _, other = _new_source(services, "other")
    (services.store.root / stuck / "stray-file").write_bytes(b"x")  # rmdir will fail
    services.inbox.delete_source(stuck)
    services.inbox.delete_source(other)
    assert not (services.store.root / other).exists()
    report = services.deletion.purge()
    assert report.failed == 1
    with services.db.session() as s:
        remaining = s.scalar(select(func.count()).select_from(Submission))
    assert remaining == 1  # the stuck source's, still tombstoned
    assert services.inbox.page(1).total == 0


def test_a_zip_of_a_missing_file_is_an_error_page_before_any_byte(
    ombuds: OmbudsActions, source: SourceActions, services: Services
) -> None:
    source.signup()
    source.submit("one")
    source.submit("two")
    (ref,) = [r.ref for r in services.inbox.page(1).rows]
    services.store.path_for(ref, services.store.item_names(ref)[1]).unlink()
    response = ombuds.post(f"/col/{ref}/items", {"action": "download-all"})
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    with pytest.raises(StoreError):
        services.inbox.entries(ref, Selection.ALL, [])
