"""Conversation requests in the ombuds inbox: a marker without content, and item labels."""

from __future__ import annotations

import html
import re

from securedrop_lite.services import Services
from securedrop_lite.services.users import NewCredentials
from tests.conftest import OmbudsActions
from tests.unit.staged_items import new_source, store_text_item

REQUEST = (
    "REQUEST FOR A CONVERSATION\n"
    "Call me on +41 79 555 12 34 (Signal), weekdays after 19:30.\n"
    "My name is Mirela Vukovic."
)
LOG_ENTRY = "2026-11-03: the first AD mocked my accent in front of the crew"


def _get(ombuds: OmbudsActions, credentials: NewCredentials, path: str) -> str:
    response = ombuds.client.get(path)
    if response.status_code == 302 and response.headers["Location"].startswith("/login"):
        assert ombuds.login(credentials).status_code == 302
        response = ombuds.client.get(path)
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def _html_row(page: str, designation: str) -> str:
    (row,) = [tr for tr in page.split("<tr")[1:] if html.escape(designation) in tr]
    return row


def test_inbox_marks_only_sources_with_a_conversation_request(services: Services) -> None:
    asking, asking_ref = new_source(services, "I would rather talk")
    _, quiet_ref = new_source(services, "just a message")
    store_text_item(services, asking, "talk", REQUEST)
    requested = {row.ref: row.conversation_requested for row in services.inbox.page(1).rows}
    assert requested == {asking_ref: True, quiet_ref: False}
    assert services.inbox.source(asking_ref).conversation_requested
    assert not services.inbox.source(quiet_ref).conversation_requested


def test_a_shared_log_entry_is_not_a_conversation_request(services: Services) -> None:
    sharing, ref = new_source(services)
    store_text_item(services, sharing, "log", LOG_ENTRY)
    assert not services.inbox.page(1).rows[0].conversation_requested
    assert not services.inbox.source(ref).conversation_requested


def test_a_deleted_conversation_request_no_longer_marks_the_source(services: Services) -> None:
    asking, ref = new_source(services, "hello")
    name = store_text_item(services, asking, "talk", REQUEST)
    assert services.inbox.delete_items(ref, [name]) == 1
    assert not services.inbox.page(1).rows[0].conversation_requested
    assert not services.inbox.source(ref).conversation_requested


def test_inbox_page_shows_the_marker_but_nothing_of_the_request(
    services: Services, ombuds: OmbudsActions, admin_credentials: NewCredentials
) -> None:
    asking, _ = new_source(services, "I would rather talk")
    new_source(services, "just a message")
    store_text_item(services, asking, "talk", REQUEST)
    page = _get(ombuds, admin_credentials, "/")
    asking_name, quiet_name = (
        row.designation
        for row in sorted(services.inbox.page(1).rows, key=lambda r: not r.conversation_requested)
    )
    assert "conversation requested" in _html_row(page, asking_name)
    assert "conversation requested" not in _html_row(page, quiet_name)
    assert page.count("conversation requested") == 1
    for line in REQUEST.splitlines():
        assert line not in page
        assert html.escape(line) not in page
    # No time of day anywhere: the page shows days at most.
    assert not re.search(r"\b\d{1,2}:\d{2}\b", page)


def test_source_page_labels_log_entries_and_conversation_requests_without_their_content(
    services: Services, ombuds: OmbudsActions, admin_credentials: NewCredentials
) -> None:
    identity, ref = new_source(services, "a message")
    store_text_item(services, identity, "log", LOG_ENTRY)
    store_text_item(services, identity, "talk", REQUEST)
    kinds = [item.kind for item in services.inbox.source(ref).items]
    assert kinds == ["message", "shared log entry", "conversation request"]
    page = _get(ombuds, admin_credentials, f"/col/{ref}")
    cells = re.findall(r"<td>([^<]*)</td>", page)
    assert {"message", "shared log entry", "conversation request"} <= set(cells)
    for secret in (*REQUEST.splitlines(), LOG_ENTRY):
        assert secret not in page
        assert html.escape(secret) not in page


def test_a_conversation_request_is_stored_as_ciphertext_named_as_a_message(
    services: Services,
) -> None:
    identity, ref = new_source(services)
    name = store_text_item(services, identity, "talk", REQUEST)
    assert name.endswith("-msg.gpg")
    stored = services.store.path_for(ref, name).read_bytes()
    for line in REQUEST.splitlines():
        assert line.encode() not in stored
