"""The ombuds interface through the Flask test client: locks, inbox, downloads, replies, admin."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from journalist_interface.access import INSECURE_VIEWS
from securedrop_lite.airgap.decrypt import decrypt_file
from securedrop_lite.auth import totp_code
from securedrop_lite.models import Reply, Source, Submission
from securedrop_lite.services import Services
from securedrop_lite.services.users import NewCredentials
from securedrop_lite.web.headers import SECURITY_HEADERS
from tests.conftest import FrozenClock, KeyPair, OmbudsActions, SourceActions, csrf_token
from tests.unit.test_inbox import _insert_sources, _statements_for

SAMPLE_ARGS = {
    "ref": "0" * 32,
    "file_name": "1-brave-otter-msg.gpg",
    "user_id": 1,
    "slug": "about",
    "locale": "en",
}


def _refs(services: Services) -> list[str]:
    with services.db.session() as s:
        return list(s.scalars(select(Source.store_dir).order_by(Source.id)))


def _source_with_items(source: SourceActions, *messages: str, file: bytes | None = None) -> None:
    source.signup()
    for message in messages:
        assert source.submit(message).status_code == 302
    if file is not None:
        assert source.submit("", (file, "evidence.pdf")).status_code == 302


def _login_page_error(response: Any) -> str:
    text = response.get_data(as_text=True)
    match = re.search(r'<p class="error" role="alert">([^<]*)</p>', text)
    assert match, text
    return match.group(1)


# --- the login lock ---------------------------------------------------------------------


def test_allowlist_is_short() -> None:
    assert frozenset({"static", "account.login"}) == INSECURE_VIEWS


def test_every_view_not_on_the_allowlist_redirects_to_login_without_a_session(
    journalist_app: Any,
) -> None:
    client = journalist_app.test_client()
    checked = 0
    for rule in journalist_app.url_map.iter_rules():
        if rule.endpoint in INSECURE_VIEWS:
            continue
        path = rule.build({k: v for k, v in SAMPLE_ARGS.items() if k in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            assert response.status_code == 302, (method, path)
            assert response.headers["Location"].startswith("/login"), (method, path)
            checked += 1
    assert checked >= 15


def test_wrong_passphrase_wrong_code_reused_code_and_throttling_get_the_same_message(
    journalist_app: Any, clock: FrozenClock, services: Services
) -> None:
    alice = services.users.add("alice")
    bob = services.users.add("bob")
    ombuds = OmbudsActions(journalist_app.test_client(), clock)
    wrong_code = f"{(int(totp_code(alice.totp_secret, clock())) + 1) % 1_000_000:06d}"
    refusals = [
        ombuds.login(alice, passphrase="wrong " * 7),
        ombuds.login(alice, code=wrong_code),
        ombuds.login(alice, username="nobody"),
    ]
    assert ombuds.login(bob).status_code == 302
    reuse = OmbudsActions(journalist_app.test_client(), clock)
    refusals.append(reuse.login(bob))  # the same code, again
    for _ in range(5):
        ombuds.login(alice, code=wrong_code)
    clock.advance(timedelta(seconds=30))
    refusals.append(ombuds.login(alice))  # right credentials, but throttled
    assert {r.status_code for r in refusals} == {401}
    assert len({_login_page_error(r) for r in refusals}) == 1


def test_session_id_is_new_at_login(
    journalist_app: Any, clock: FrozenClock, admin_credentials: NewCredentials
) -> None:
    ombuds = OmbudsActions(journalist_app.test_client(), clock)
    ombuds.client.get("/login")
    before = ombuds.client.get_cookie("sdlj").value
    assert ombuds.login(admin_credentials).status_code == 302
    after = ombuds.client.get_cookie("sdlj").value
    assert before != after
    stale = journalist_app.test_client()
    stale.set_cookie("sdlj", before)
    assert stale.get("/").status_code == 302


def test_idle_session_ends_after_the_configured_minutes(
    ombuds: OmbudsActions, clock: FrozenClock
) -> None:
    clock.advance(timedelta(minutes=29))
    assert ombuds.client.get("/").status_code == 200
    clock.advance(timedelta(minutes=31))
    response = ombuds.client.get("/")
    assert response.status_code == 302
    assert "ended=1" in response.headers["Location"]
    assert ombuds.client.get("/").status_code == 302


def test_session_ends_at_the_absolute_timeout_even_when_busy(
    ombuds: OmbudsActions, clock: FrozenClock
) -> None:
    for _ in range(5):
        clock.advance(timedelta(minutes=25))
        ombuds.client.get("/")
    assert ombuds.client.get("/").status_code == 302


def test_deleted_user_loses_access_at_once(
    journalist_app: Any, ombuds: OmbudsActions, clock: FrozenClock, services: Services
) -> None:
    bob = services.users.add("bob")
    bob_client = OmbudsActions(journalist_app.test_client(), clock)
    assert bob_client.login(bob).status_code == 302
    assert bob_client.client.get("/").status_code == 200
    bob_id = next(a.id for a in services.users.list() if a.username == "bob")
    assert ombuds.post(f"/admin/users/{bob_id}/delete", page="/admin/").status_code == 302
    assert bob_client.client.get("/").status_code == 302


def test_logout_ends_the_session(ombuds: OmbudsActions) -> None:
    assert ombuds.post("/logout").status_code == 302
    assert ombuds.client.get("/").status_code == 302


def test_pages_carry_the_security_headers(ombuds: OmbudsActions, journalist_app: Any) -> None:
    for response in (ombuds.client.get("/"), journalist_app.test_client().get("/login")):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert "<script" not in response.get_data(as_text=True)


def test_ombuds_templates_and_css_hold_no_script_or_external_resource() -> None:
    root = Path(__file__).parents[2] / "journalist_interface"
    for path in [*root.rglob("*.html"), *root.rglob("*.css")]:
        text = path.read_text()
        assert "<script" not in text.lower(), path
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path


# --- inbox and source page --------------------------------------------------------------


def test_inbox_lists_sources_with_unread_counts_and_the_awaiting_marker(
    ombuds: OmbudsActions,
    source: SourceActions,
    services: Services,
    clock: FrozenClock,
    admin_credentials: NewCredentials,
) -> None:
    _source_with_items(source, "one", "two")
    clock.advance(timedelta(days=3))
    assert ombuds.login(admin_credentials).status_code == 302  # the session expired meanwhile
    page = ombuds.client.get("/").get_data(as_text=True)
    (designation,) = [r.designation for r in services.inbox.page(1).rows]
    assert designation in page
    assert "<td>2</td>" in page
    assert "awaiting first reply · 3 day(s)" in page


def test_inbox_page_issues_the_same_number_of_sql_queries_for_10_and_1000_sources(
    ombuds: OmbudsActions, services: Services
) -> None:
    _insert_sources(services, 1, 10)
    ombuds.client.get("/")  # the first page view saves a CSRF token in the session
    for_ten = _statements_for(services, lambda: ombuds.client.get("/"))
    _insert_sources(services, 11, 990)
    pages: list[Any] = []
    for_thousand = _statements_for(services, lambda: pages.append(ombuds.client.get("/")))
    assert len(for_thousand) == len(for_ten)
    assert pages[0].status_code == 200
    assert "Page 1 of 20" in pages[0].get_data(as_text=True)


def test_starred_sources_come_first(ombuds: OmbudsActions, client: Any, services: Services) -> None:
    for _ in range(2):
        _source_with_items(SourceActions(client), "hello")
        client.get("/logout")
    first, second = _refs(services)
    ombuds.post(f"/col/{first}/star", {"starred": "1", "back": "inbox"})
    assert next(r.ref for r in services.inbox.page(1).rows) == first
    ombuds.post(f"/col/{first}/star", {"starred": "0"}, page=f"/col/{first}")
    assert not services.inbox.source(first).starred
    assert second in _refs(services)


def test_source_page_lists_items_and_marks_downloaded_ones_seen(
    ombuds: OmbudsActions, source: SourceActions, services: Services
) -> None:
    _source_with_items(source, "hello", file=b"%PDF-1.4 evidence")
    (ref,) = _refs(services)
    page = ombuds.client.get(f"/col/{ref}").get_data(as_text=True)
    names = [item.file_name for item in services.inbox.source(ref).items]
    assert all(name in page for name in names)
    response = ombuds.client.get(f"/col/{ref}/{names[0]}")
    assert response.status_code == 200
    assert response.mimetype == "application/pgp-encrypted"
    stored = services.store.path_for(ref, names[0]).read_bytes()
    assert response.data == stored
    seen = {item.file_name: item.seen for item in services.inbox.source(ref).items}
    assert seen == {names[0]: True, names[1]: False}


def test_zip_of_three_items_holds_exactly_their_ciphertexts(
    ombuds: OmbudsActions, source: SourceActions, services: Services
) -> None:
    _source_with_items(source, "first", "second", file=b"a file" * 1000)
    (ref,) = _refs(services)
    view = services.inbox.source(ref)
    assert len(view.items) == 3
    response = ombuds.post(f"/col/{ref}/items", {"action": "download-all"}, page=f"/col/{ref}")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert int(response.headers["Content-Length"]) == len(response.data)
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    folder = view.designation.replace(" ", "-")
    assert members == {
        f"{folder}/{item.file_name}": services.store.path_for(ref, item.file_name).read_bytes()
        for item in view.items
    }


def test_zip_of_chosen_and_of_unread_items(
    ombuds: OmbudsActions, source: SourceActions, services: Services
) -> None:
    _source_with_items(source, "first", "second", "third")
    (ref,) = _refs(services)
    names = [item.file_name for item in services.inbox.source(ref).items]
    chosen = ombuds.client.post(
        f"/col/{ref}/items",
        data={"csrf_token": ombuds.csrf(f"/col/{ref}"), "action": "download-chosen",
              "items": names[:2]},
    )  # fmt: skip
    with zipfile.ZipFile(io.BytesIO(chosen.data)) as archive:
        assert sorted(n.split("/")[1] for n in archive.namelist()) == sorted(names[:2])
    unread = ombuds.post(f"/col/{ref}/items", {"action": "download-unread"}, page=f"/col/{ref}")
    with zipfile.ZipFile(io.BytesIO(unread.data)) as archive:
        assert [n.split("/")[1] for n in archive.namelist()] == names[2:]


def test_another_sources_item_or_page_is_a_404_on_the_ombuds_side(
    ombuds: OmbudsActions, client: Any, services: Services
) -> None:
    for text in ("from a", "from b"):
        _source_with_items(SourceActions(client), text)
        client.get("/logout")
    ref_a, ref_b = _refs(services)
    item_b = services.inbox.source(ref_b).items[0].file_name
    assert ombuds.client.get(f"/col/{ref_a}/{item_b}").status_code == 404
    assert ombuds.client.get(f"/col/{'f' * 32}").status_code == 404
    assert ombuds.client.get("/col/..%2f..%2fetc").status_code == 404
    chosen = ombuds.client.post(
        f"/col/{ref_a}/items",
        data={"csrf_token": ombuds.csrf(), "action": "download-chosen", "items": [item_b]},
    )
    assert chosen.status_code == 404
    delete = ombuds.client.post(
        f"/col/{ref_a}/items",
        data={"csrf_token": ombuds.csrf(), "action": "delete", "items": [item_b]},
    )
    assert delete.status_code == 302
    assert services.store.path_for(ref_b, item_b).exists()


def test_unknown_action_and_missing_csrf_get_a_plain_400(
    ombuds: OmbudsActions, source: SourceActions, services: Services
) -> None:
    _source_with_items(source, "hello")
    (ref,) = _refs(services)
    unknown = ombuds.post(f"/col/{ref}/items", {"action": "explode"})
    assert unknown.status_code == 400
    no_csrf = ombuds.client.post(f"/col/{ref}/items", data={"action": "delete"})
    assert no_csrf.status_code == 400
    assert "Traceback" not in no_csrf.get_data(as_text=True)
    assert len(services.inbox.source(ref).items) == 1


# --- replies ----------------------------------------------------------------------------


def test_reply_round_trip_source_reads_exact_text_and_ombuds_copy_decrypts(
    ombuds: OmbudsActions,
    source: SourceActions,
    services: Services,
    ombuds_key: KeyPair,
    tmp_path: Path,
) -> None:
    codename = source.signup()
    assert source.submit("The second AD keeps touching my shoulder.").status_code == 302
    source.client.get("/logout")
    (ref,) = _refs(services)
    reply = "Thank you for writing. — We can talk on Thursday; ñ and emoji 🎬 survive."
    response = ombuds.post("/reply", {"source": ref, "message": reply}, page=f"/col/{ref}")
    assert response.status_code == 302
    assert source.login(codename).status_code == 302
    page = source.client.get("/lookup").get_data(as_text=True)
    assert reply.replace("—", "—") in page
    (reply_file,) = (services.store.root / ref).glob("*-reply.gpg")
    assert reply.encode() not in reply_file.read_bytes()
    decrypted = decrypt_file(ombuds_key.airgap_home, reply_file, tmp_path / "out")
    assert decrypted.path.read_text() == reply
    assert services.inbox.source(ref).awaiting_days is None


def test_empty_reply_gets_a_clear_message(
    ombuds: OmbudsActions, source: SourceActions, services: Services
) -> None:
    _source_with_items(source, "hello")
    (ref,) = _refs(services)
    response = ombuds.post("/reply", {"source": ref, "message": "  "}, page=f"/col/{ref}")
    assert response.status_code == 400
    assert "Please write a reply." in response.get_data(as_text=True)


def test_source_cannot_read_or_delete_another_sources_replies(
    ombuds: OmbudsActions, client: Any, services: Services
) -> None:
    alice = SourceActions(client)
    _source_with_items(alice, "from alice")
    client.get("/logout")
    ref_alice = _refs(services)[0]
    ombuds.post("/reply", {"source": ref_alice, "message": "for alice only"})
    bob = SourceActions(client)
    _source_with_items(bob, "from bob")
    page = client.get("/lookup").get_data(as_text=True)
    assert "for alice only" not in page
    with services.db.session() as s:
        number = s.scalar(select(Reply.number))
    response = client.post("/delete-reply", data={"csrf_token": csrf_token(page), "number": number})
    assert response.status_code == 404
    with services.db.session() as s:
        assert s.scalar(select(func.count(Reply.id))) == 1


def test_source_deletes_its_own_reply(
    ombuds: OmbudsActions, source: SourceActions, services: Services
) -> None:
    _source_with_items(source, "hello")
    (ref,) = _refs(services)
    ombuds.post("/reply", {"source": ref, "message": "a reply to delete"})
    page = source.client.get("/lookup").get_data(as_text=True)
    assert "a reply to delete" in page
    number = re.search(r'name="number" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    response = source.client.post(
        "/delete-reply", data={"csrf_token": csrf_token(page), "number": number}
    )
    assert response.status_code == 302
    assert "a reply to delete" not in source.client.get("/lookup").get_data(as_text=True)
    assert not list((services.store.root / ref).glob("*-reply.gpg"))


# --- deletion ---------------------------------------------------------------------------


def test_deleting_a_source_leaves_no_file_no_row_and_no_reply(
    ombuds: OmbudsActions, source: SourceActions, services: Services
) -> None:
    codename = source.signup()
    source.submit("hello", (b"file body", "f.txt"))
    (ref,) = _refs(services)
    ombuds.post("/reply", {"source": ref, "message": "a reply"})
    confirm = ombuds.client.get(f"/col/{ref}/delete")
    assert confirm.status_code == 200
    assert ombuds.post(f"/col/{ref}/delete", page=f"/col/{ref}").status_code == 302
    assert not (services.store.root / ref).exists()
    with services.db.session() as s:
        for model in (Source, Submission, Reply):
            assert s.scalar(select(func.count()).select_from(model)) == 0
    source.client.get("/logout")
    assert source.login(codename).status_code == 401


def test_deleting_chosen_items_removes_their_files_and_rows(
    ombuds: OmbudsActions, source: SourceActions, services: Services
) -> None:
    _source_with_items(source, "keep", "drop")
    (ref,) = _refs(services)
    keep, drop = [item.file_name for item in services.inbox.source(ref).items]
    ombuds.client.post(
        f"/col/{ref}/items",
        data={"csrf_token": ombuds.csrf(), "action": "delete", "items": [drop]},
    )
    assert [item.file_name for item in services.inbox.source(ref).items] == [keep]
    assert not services.store.path_for(ref, drop).exists()


# --- admin ------------------------------------------------------------------------------


def test_non_admins_cannot_reach_admin_pages(
    journalist_app: Any, clock: FrozenClock, services: Services
) -> None:
    bob = services.users.add("bob")
    actions = OmbudsActions(journalist_app.test_client(), clock)
    actions.login(bob)
    for path in ("/admin/", "/admin/settings", "/admin/audit", "/admin/users/1/2fa"):
        assert actions.client.get(path).status_code == 403, path
    assert actions.post("/admin/users", {"username": "mallory", "is_admin": "y"}).status_code == 403
    assert [a.username for a in services.users.list()] == ["bob"]


def test_admin_adds_a_user_who_can_then_log_in(
    ombuds: OmbudsActions, journalist_app: Any, clock: FrozenClock
) -> None:
    page = ombuds.post("/admin/users", {"username": "carol"}, page="/admin/")
    text = page.get_data(as_text=True)
    passphrase = re.search(r'id="passphrase">([^<]+)<', text).group(1)  # type: ignore[union-attr]
    secret = re.search(r'id="totp-secret">([^<]+)<', text).group(1)  # type: ignore[union-attr]
    assert "<svg" in text
    assert len(passphrase.split()) >= 7
    carol = NewCredentials("carol", passphrase, secret, "", False, "")
    assert OmbudsActions(journalist_app.test_client(), clock).login(carol).status_code == 302


def test_admin_two_factor_reset_keeps_the_old_secret_until_the_new_one_is_verified(
    ombuds: OmbudsActions, journalist_app: Any, clock: FrozenClock, services: Services
) -> None:
    bob = services.users.add("bob")
    bob_id = next(a.id for a in services.users.list() if a.username == "bob")
    page = ombuds.client.get(f"/admin/users/{bob_id}/2fa").get_data(as_text=True)
    new_secret = re.search(r'id="totp-secret">([^<]+)<', page).group(1)  # type: ignore[union-attr]
    clock.advance(timedelta(seconds=30))
    assert OmbudsActions(journalist_app.test_client(), clock).login(bob).status_code == 302
    wrong = ombuds.client.post(
        f"/admin/users/{bob_id}/2fa", data={"csrf_token": csrf_token(page), "token": "000000"}
    )
    assert "does not match" in wrong.get_data(as_text=True)
    right = ombuds.client.post(
        f"/admin/users/{bob_id}/2fa",
        data={"csrf_token": csrf_token(page), "token": totp_code(new_secret, clock())},
    )
    assert right.status_code == 302
    clock.advance(timedelta(seconds=30))
    old = OmbudsActions(journalist_app.test_client(), clock)
    assert old.login(bob).status_code == 401
    new = NewCredentials("bob", bob.passphrase, new_secret, "", False, "")
    assert OmbudsActions(journalist_app.test_client(), clock).login(new).status_code == 302


def test_admin_resets_a_passphrase_and_grants_admin(
    ombuds: OmbudsActions, services: Services
) -> None:
    services.users.add("bob")
    bob_id = next(a.id for a in services.users.list() if a.username == "bob")
    page = ombuds.post(f"/admin/users/{bob_id}/passphrase", page="/admin/")
    assert 'id="passphrase"' in page.get_data(as_text=True)
    ombuds.post(f"/admin/users/{bob_id}/admin", {"grant": "1"}, page="/admin/")
    assert services.users.get(bob_id).is_admin  # type: ignore[union-attr]


def test_the_last_admin_cannot_delete_themselves(ombuds: OmbudsActions, services: Services) -> None:
    (me,) = services.users.list()
    response = ombuds.post(f"/admin/users/{me.id}/delete", page="/admin/")
    assert response.status_code == 400
    assert services.users.get(me.id) is not None


def test_admin_settings_change_what_sources_see(
    ombuds: OmbudsActions, client: Any, source: SourceActions
) -> None:
    settings = {
        "organization_name": "Screen Workers Ombuds",
        "welcome_text": "We read every message within two days.",
        "response_promise": "Expect an answer within 5 days.",
        "max_upload_mib": "10",
        "retention_days": "90",
    }  # allow_uploads unticked: messages only
    response = ombuds.post("/admin/settings", settings, page="/admin/settings")
    assert response.status_code == 302
    landing = client.get("/").get_data(as_text=True)
    assert "Screen Workers Ombuds" in landing
    assert "We read every message within two days." in landing
    source.signup()
    lookup = client.get("/lookup").get_data(as_text=True)
    assert 'type="file"' not in lookup
    assert "Expect an answer within 5 days." in lookup
    assert source.submit("", (b"data", "x.pdf")).status_code == 400


def test_out_of_range_settings_are_refused_with_a_message(ombuds: OmbudsActions) -> None:
    response = ombuds.post(
        "/admin/settings",
        {"organization_name": "X", "max_upload_mib": "999999", "retention_days": "1"},
        page="/admin/settings",
    )
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)


def test_audit_log_records_event_types_and_days_only(
    ombuds: OmbudsActions, source: SourceActions, services: Services, clock: FrozenClock
) -> None:
    _source_with_items(source, "hello")
    (ref,) = _refs(services)
    ombuds.client.get(f"/col/{ref}/{services.inbox.source(ref).items[0].file_name}")
    page = ombuds.client.get("/admin/audit").get_data(as_text=True)
    for event in ("login succeeded", "download"):
        assert event in page
    assert clock().date().isoformat() in page
    assert "alice" not in page.split("<main>")[1].split("</main>")[0]
    assert "127.0.0.1" not in page


@pytest.mark.parametrize("field", ["passphrase", "token"])
def test_login_secrets_never_reach_a_log(
    journalist_app: Any,
    clock: FrozenClock,
    admin_credentials: NewCredentials,
    config: Any,
    caplog: pytest.LogCaptureFixture,
    field: str,
) -> None:
    caplog.set_level("DEBUG")
    ombuds = OmbudsActions(journalist_app.test_client(), clock)
    code = totp_code(admin_credentials.totp_secret, clock())
    ombuds.login(admin_credentials, **{field: "wrong secret 123456"})
    ombuds.login(admin_credentials)
    logged = caplog.text + "".join(p.read_text() for p in config.log_dir.glob("*"))
    for secret in (admin_credentials.passphrase, code, "wrong secret 123456"):
        assert secret not in logged
