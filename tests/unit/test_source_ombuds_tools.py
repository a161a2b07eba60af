"""Consent, quick exit, deadlines, conversation requests and withdrawal, through the source app."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from securedrop_lite.models import LogEntry, Reply, Source, Submission, WebSession
from securedrop_lite.services import Services
from tests.conftest import (
    QUICK_EXIT_URL,
    FrozenClock,
    KeyPair,
    SourceActions,
    csrf_token,
    decrypt_with_airgap_tool,
    make_submission_key_unusable,
)
from tests.unit.source_pages import every_source_page

CONTACT = "signal: quiet.otter.07, evenings"


def count(services: Services, model: Any) -> int:
    with services.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def post_form(source: SourceActions, path: str, data: dict[str, str], page: str) -> Any:
    token = csrf_token(source.client.get(page).get_data(as_text=True))
    return source.client.post(path, data={"csrf_token": token, **data})


def test_the_quick_exit_link_is_on_every_source_page(
    source: SourceActions,
    services: Services,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pages = every_source_page(source, services, clock, monkeypatch)
    assert len(pages) >= 30
    for page in pages:
        assert re.search(r'<a href="/exit" id="quick-exit"[^>]*>Leave this site</a>', page.html), (
            page.name
        )
        # First on the page, before anything that names the office.
        assert page.html.index('id="quick-exit"') < page.html.index('class="brand"'), page.name


def test_quick_exit_ends_the_session_and_lands_on_a_neutral_page(
    source: SourceActions, services: Services
) -> None:
    source.signup()
    assert count(services, WebSession) == 1
    response = source.client.get("/exit")
    assert response.status_code == 303
    assert response.headers["Location"] == QUICK_EXIT_URL
    assert response.headers["Clear-Site-Data"] == '"cache", "cookies", "storage"'
    assert "sdl=;" in response.headers["Set-Cookie"]  # the cookie is deleted
    assert count(services, WebSession) == 0
    assert source.client.get("/lookup").headers["Location"].endswith("/login")


def test_a_codename_is_given_only_after_the_consent_page(source: SourceActions) -> None:
    response = source.client.get("/generate")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/consent?next=generate")
    page = source.client.get("/consent").get_data(as_text=True)
    for point in ("does not give legal advice", "not formal notice", "imminent risk"):
        assert point in page
    for slug in ("about", "options", "referrals"):
        assert f'href="/info/{slug}"' in page
    assert source.consent().headers["Location"].endswith("/generate")
    assert 'id="codename"' in source.client.get("/generate").get_data(as_text=True)


def test_a_first_submission_without_consent_is_refused_and_nothing_is_stored(
    source: SourceActions, services: Services, app: Any
) -> None:
    codename = source.signup()
    fresh = SourceActions(app.test_client())
    assert fresh.login(codename).status_code == 302
    lookup = fresh.client.get("/lookup").get_data(as_text=True)
    assert 'id="consent-needed"' in lookup
    assert 'id="submit"' not in lookup
    response = post_form(fresh, "/submit", {"msg": "hello"}, "/login")
    assert response.headers["Location"].endswith("/consent?next=lookup")
    assert count(services, Submission) == 0
    # Once a source has submitted, later sessions need not consent again.
    assert source.submit(msg="hello").status_code == 302
    later = SourceActions(app.test_client())
    later.login(codename)
    assert 'id="submit"' in later.client.get("/lookup").get_data(as_text=True)


def test_language_links_only_lead_back_into_this_site(source: SourceActions) -> None:
    client = source.client
    assert client.get("/lang/es?next=/login").headers["Location"] == "/login"
    for hostile in ("//evil.example/", "http://evil.example/", "/\\evil.example", "/a//b",
                    "javascript:alert(1)", "/%0d%0aSet-Cookie:x=1"):  # fmt: skip
        location = client.get("/lang/es", query_string={"next": hostile}).headers["Location"]
        assert location == "/", hostile
    assert '<html lang="es">' in client.get("/").get_data(as_text=True)
    client.get("/lang/xx")  # unknown: ignored, the choice stays
    assert '<html lang="es">' in client.get("/").get_data(as_text=True)


def test_the_source_sees_when_the_ombuds_aims_to_acknowledge_and_respond(
    source: SourceActions, services: Services, clock: FrozenClock
) -> None:
    source.signup()
    assert 'id="deadlines"' not in source.client.get("/lookup").get_data(as_text=True)
    source.submit(msg="hello")
    clock.advance(timedelta(days=2))
    source.login()  # two days later: the first session has expired
    source.submit(msg="again")
    page = source.client.get("/lookup").get_data(as_text=True)
    assert "First received: 2026-11-22; latest: 2026-11-24" in page
    assert "acknowledge your message by 2026-11-29" in page  # 7 days
    assert "respond by 2027-02-20" in page  # 90 days
    services.replies.reply(services.inbox.page(1).rows[0].ref, "Received, thank you.")
    page = source.client.get("/lookup").get_data(as_text=True)
    assert 'id="acknowledge-by"' not in page
    assert "The ombuds has replied." in page


def test_a_conversation_request_is_sent_encrypted_and_the_airgap_tool_reads_it(
    source: SourceActions, services: Services, data_dir: Path, ombuds_key: KeyPair, tmp_path: Path
) -> None:
    source.signup()
    page = source.client.get("/request-conversation").get_data(as_text=True)
    assert 'id="identity-warning"' in page
    assert "destroyed 30 days after" in page
    sent = post_form(
        source,
        "/request-conversation",
        {"channel": "video", "contact": CONTACT, "times": "weekday evenings"},
        "/request-conversation",
    )
    assert sent.status_code == 302
    with services.db.session() as s:
        (request,) = s.scalars(select(Submission)).all()
        assert request.kind == "talk"
        path = data_dir / "store" / request.source.store_dir / request.file_name
    services.db.dispose()
    disk = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert CONTACT.encode() not in disk
    assert "you asked on 2026-11-22" in source.client.get("/lookup").get_data(as_text=True)
    text = decrypt_with_airgap_tool(path, tmp_path / "plain", ombuds_key).read_text()
    assert "REQUEST FOR A CONVERSATION" in text
    assert "a video call" in text
    assert CONTACT in text
    assert "weekday evenings" in text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"channel": "fax", "contact": CONTACT}, "Please choose how you would like to talk."),
        ({"channel": "phone", "contact": "  "}, "Please give the contact details"),
        ({"channel": "phone", "contact": "x" * 501}, "Please give the contact details"),
        ({"channel": "phone", "contact": CONTACT, "times": "x" * 1001}, "Please shorten"),
    ],
)
def test_a_bad_conversation_request_gets_the_form_back_and_nothing_is_stored(
    source: SourceActions, services: Services, form: dict[str, str], message: str
) -> None:
    source.signup()
    response = post_form(source, "/request-conversation", form, "/request-conversation")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'name="contact"' in page  # the form is back, with what was typed
    assert count(services, Submission) == 0


def test_after_withdrawal_nothing_of_that_source_remains(
    source: SourceActions, services: Services, data_dir: Path, app: Any
) -> None:
    other = SourceActions(app.test_client())
    other.signup()
    other.submit(msg="another worker's message")
    codename = source.signup()
    source.submit(msg="mine", file=(b"my file", "notes.txt"))
    ref = next(r.ref for r in services.inbox.page(1).rows if r.ref)  # newest first
    with services.db.session() as s:
        mine = s.scalars(select(Source).where(Source.store_dir == ref)).one()
        assert mine.submissions[0].source_id == mine.id
    services.replies.reply(ref, "A reply to you.")
    post_form(source, "/log/new", {"what": "private note"}, "/log/new")
    post_form(source, "/request-conversation", {"channel": "phone", "contact": "555"}, "/lookup")
    assert count(services, LogEntry) == 1
    page = source.client.get("/withdraw").get_data(as_text=True)
    assert "3 items you sent" in page
    assert "1 reply from the ombuds" in page
    assert "1 entry in your incident log" in page

    response = post_form(source, "/withdraw", {}, "/withdraw")
    assert response.status_code == 200
    assert "Everything was deleted" in response.get_data(as_text=True)
    with services.db.session() as s:
        assert s.scalars(select(Source).where(Source.id == mine.id)).all() == []
        assert s.scalars(select(Submission).where(Submission.source_id == mine.id)).all() == []
        assert s.scalars(select(Reply).where(Reply.source_id == mine.id)).all() == []
    assert count(services, LogEntry) == 0
    assert count(services, Reply) == 0
    assert count(services, Source) == 1
    assert count(services, Submission) == 1
    assert not (data_dir / "store" / ref).exists()
    assert count(services, WebSession) == 1  # the other source's session only
    assert source.client.get("/lookup").headers["Location"].endswith("/login")
    assert source.login(codename).status_code == 401  # the codename no longer works


def test_withdrawal_needs_the_confirmation_form(source: SourceActions, services: Services) -> None:
    source.signup()
    source.submit(msg="keep me")
    response = source.client.post("/withdraw", data={})  # no CSRF token
    assert response.status_code == 400
    assert count(services, Submission) == 1
    assert source.client.get("/withdraw").status_code == 200


def test_log_routes_write_revise_download_share_and_delete(
    source: SourceActions, services: Services, config: Any
) -> None:
    from securedrop_lite.receipts import ReceiptKey, verify_document

    source.signup()
    saved = post_form(
        source, "/log/new", {"when": "Monday", "what": "He shouted at me."}, "/log/new"
    )
    ref = saved.headers["Location"].rsplit("/", 1)[1]
    assert "He shouted at me." in source.client.get(f"/log/{ref}").get_data(as_text=True)
    post_form(source, f"/log/{ref}/revise", {"what": "He shouted, twice."}, "/log/new")
    page = source.client.get(f"/log/{ref}").get_data(as_text=True)
    assert "Version 2, written 2026-11-22" in page
    assert "Earlier versions" in page
    document = source.client.get(f"/log/{ref}/1/receipt")
    assert document.headers["Content-Disposition"] == (
        'attachment; filename="incident-log-2026-11-22-v1.txt"'
    )
    key = ReceiptKey.load(config.receipt_key_path).public_bytes
    assert "He shouted at me." in verify_document(document.get_data(), key).text
    shared = post_form(source, "/log/share", {"entries": ref}, "/log")
    assert shared.status_code == 302
    with services.db.session() as s:
        assert [sub.kind for sub in s.scalars(select(Submission))] == ["log"]
    deleted = post_form(source, f"/log/{ref}/delete", {}, f"/log/{ref}/delete")
    assert deleted.headers["Location"].endswith("/log")
    assert source.client.get(f"/log/{ref}").status_code == 404
    assert count(services, LogEntry) == 0
    assert count(services, Submission) == 1  # the shared copy is the ombuds' now


def test_one_source_cannot_reach_anothers_log_entry(source: SourceActions, app: Any) -> None:
    source.signup()
    saved = post_form(source, "/log/new", {"what": "mine alone"}, "/log/new")
    ref = saved.headers["Location"].rsplit("/", 1)[1]
    other = SourceActions(app.test_client())
    other.signup()
    for path in (
        f"/log/{ref}",
        f"/log/{ref}/revise",
        f"/log/{ref}/delete",
        f"/log/{ref}/1/receipt",
    ):
        response = other.client.get(path)
        assert response.status_code == 404, path
        assert "mine alone" not in response.get_data(as_text=True)
    assert post_form(other, f"/log/{ref}/delete", {}, "/log/new").status_code == 404
    assert post_form(other, "/log/share", {"entries": ref}, "/log/new").status_code == 404
    assert "mine alone" in source.client.get(f"/log/{ref}").get_data(as_text=True)


def test_a_shared_entry_date_is_only_a_day(source: SourceActions, services: Services) -> None:
    source.signup()
    post_form(source, "/log/new", {"what": "x"}, "/log/new")
    with services.db.session() as s:
        row = s.scalars(select(LogEntry)).one()
        assert type(row.created_on) is date


def test_information_pages_and_the_quick_exit_work_while_the_key_is_unusable(
    client: Any, services: Services, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_submission_key_unusable(services, clock, monkeypatch)
    assert client.get("/generate").status_code == 503
    for slug in ("about", "options", "referrals"):
        assert client.get(f"/info/{slug}").status_code == 200, slug
    assert client.get("/exit").status_code == 303
    assert client.get("/lang/es").status_code == 302
    assert client.post("/consent").status_code == 503  # accepts nothing


def test_the_information_pages_are_linked_from_the_landing_page_and_the_replies(
    source: SourceActions, services: Services
) -> None:
    landing = source.client.get("/").get_data(as_text=True)
    for slug in ("about", "options", "referrals"):
        assert f'href="/info/{slug}"' in landing, slug
    source.signup()
    source.submit(msg="hello")
    services.replies.reply(services.inbox.page(1).rows[0].ref, "We read it.")
    replies = source.client.get("/lookup").get_data(as_text=True)
    links = replies[replies.index('id="reply-info"') :].split("</p>", 1)[0]
    for slug in ("about", "options", "referrals"):
        assert f'href="/info/{slug}"' in links, slug
