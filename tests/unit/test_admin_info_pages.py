"""Admins edit the information pages in the ombuds interface; nobody else can."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select

from securedrop_lite.infopages import LOCALES, SLUGS
from securedrop_lite.models import AuditEvent, InfoPage
from securedrop_lite.services import Services
from securedrop_lite.services.audit import Event
from tests.conftest import FrozenClock, OmbudsActions

EDIT = "/admin/pages/about/en"
HOSTILE = "# Hello\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n"


def _rows(services: Services) -> list[InfoPage]:
    with services.db.session() as s:
        return list(s.scalars(select(InfoPage)))


def _events(services: Services) -> list[str]:
    with services.db.session() as s:
        return list(s.scalars(select(AuditEvent.event)))


def _preview(page: str) -> str:
    match = re.search(r'<div class="preview" id="preview" lang="\w+">(.*?)</div>', page, re.S)
    assert match, page
    return match.group(1)


def _error(page: str) -> str:
    match = re.search(r'<p class="error" role="alert">([^<]*)</p>', page)
    assert match, page
    return html.unescape(match.group(1))


def _textarea(page: str) -> str:
    match = re.search(r"<textarea[^>]*>(.*?)</textarea>", page, re.S)
    assert match, page
    return html.unescape(match.group(1)).lstrip("\r\n")


def test_every_info_page_view_needs_a_login(journalist_app: Any) -> None:
    client = journalist_app.test_client()
    for path in ("/admin/pages/", EDIT):
        assert client.get(path).headers["Location"].startswith("/login")
    for path in (EDIT, EDIT + "/reset"):
        assert client.post(path).headers["Location"].startswith("/login")


def test_non_admins_cannot_read_edit_or_reset_pages(
    journalist_app: Any, clock: FrozenClock, services: Services
) -> None:
    services.info_pages.save("about", "en", "# Kept\n")
    actions = OmbudsActions(journalist_app.test_client(), clock)
    assert actions.login(services.users.add("bob")).status_code == 302
    for path in ("/admin/pages/", EDIT):
        assert actions.client.get(path).status_code == 403, path
    assert actions.post(EDIT, {"markdown": "# Changed\n", "action": "save"}).status_code == 403
    assert actions.post(EDIT + "/reset").status_code == 403
    assert [row.markdown for row in _rows(services)] == ["# Kept\n"]


def test_the_admin_page_links_to_the_information_pages(ombuds: OmbudsActions) -> None:
    assert 'href="/admin/pages/"' in ombuds.client.get("/admin/").get_data(as_text=True)


def test_the_list_shows_every_page_and_language_edited_or_default(
    ombuds: OmbudsActions, services: Services, clock: FrozenClock
) -> None:
    services.info_pages.save("options", "es", "# Opciones\n")
    page = ombuds.client.get("/admin/pages/").get_data(as_text=True)
    for slug in SLUGS:
        for locale in LOCALES:
            assert f'href="/admin/pages/{slug}/{locale}"' in page
    assert page.count("the shipped default") == len(SLUGS) * len(LOCALES) - 1
    assert f"edited on {clock().date().isoformat()}" in page


def test_the_edit_form_holds_the_current_markdown_and_its_preview(
    ombuds: OmbudsActions, services: Services
) -> None:
    page = ombuds.client.get(EDIT).get_data(as_text=True)
    shipped = services.info_pages.get("about", "en")
    assert _textarea(page) == shipped.markdown
    assert _preview(page).strip() == str(shipped.html).strip()


def test_admin_saves_a_page_and_the_save_is_audited(
    ombuds: OmbudsActions, services: Services
) -> None:
    response = ombuds.post(EDIT, {"markdown": "# New about\r\n\r\nWords.\r\n", "action": "save"})
    assert response.status_code == 302
    assert response.headers["Location"] == EDIT
    view = services.info_pages.get("about", "en")
    assert (view.title, view.edited, view.markdown) == (
        "New about",
        True,
        "# New about\n\nWords.\n",
    )
    assert _events(services)[-1] == Event.INFO_PAGE_CHANGED.value
    page = ombuds.client.get(EDIT).get_data(as_text=True)
    assert "Saved." in page
    assert "<h1>New about</h1>" in _preview(page)


def test_the_preview_escapes_script_and_saves_nothing(
    ombuds: OmbudsActions, services: Services
) -> None:
    response = ombuds.post(EDIT, {"markdown": HOSTILE, "action": "preview"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    preview = _preview(page)
    assert "<h1>Hello</h1>" in preview
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in preview
    assert "<script" not in page.lower()
    assert 'href="javascript:' not in page
    assert _textarea(page).replace("\r\n", "\n") == HOSTILE
    assert _rows(services) == []
    assert Event.INFO_PAGE_CHANGED.value not in _events(services)


def test_a_saved_page_with_script_is_escaped_in_the_preview(
    ombuds: OmbudsActions, services: Services
) -> None:
    assert ombuds.post(EDIT, {"markdown": HOSTILE, "action": "save"}).status_code == 302
    page = ombuds.client.get(EDIT).get_data(as_text=True)
    assert "&lt;script&gt;" in _preview(page)
    assert "<script" not in page.lower()


@pytest.mark.parametrize(
    ("markdown", "reason"),
    [("", "empty"), ("No title\n", "first line"), ("# T\n" + "x" * 20_000, "limit")],
)
@pytest.mark.parametrize("action", ["save", "preview"])
def test_invalid_input_shows_the_form_again_with_the_error_and_saves_nothing(
    ombuds: OmbudsActions, services: Services, markdown: str, reason: str, action: str
) -> None:
    response = ombuds.post(EDIT, {"markdown": markdown, "action": action})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert reason in _error(page)
    assert _textarea(page).replace("\r\n", "\n") == markdown
    assert _rows(services) == []
    assert Event.INFO_PAGE_CHANGED.value not in _events(services)


def test_reset_restores_the_default(ombuds: OmbudsActions, services: Services) -> None:
    services.info_pages.save("referrals", "es", "# Ayuda local\n")
    response = ombuds.post("/admin/pages/referrals/es/reset")
    assert response.status_code == 302
    view = services.info_pages.get("referrals", "es")
    assert not view.edited
    assert view.markdown == services.info_pages.default_markdown("referrals", "es")
    assert _rows(services) == []
    assert _events(services)[-1] == Event.INFO_PAGE_CHANGED.value


@pytest.mark.parametrize("path", [EDIT, EDIT + "/reset"])
def test_a_post_without_a_csrf_token_is_refused_and_saves_nothing(
    ombuds: OmbudsActions, services: Services, path: str
) -> None:
    services.info_pages.save("about", "en", "# Kept\n")
    response = ombuds.client.post(path, data={"markdown": "# Forged\n", "action": "save"})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    assert [row.markdown for row in _rows(services)] == ["# Kept\n"]


@pytest.mark.parametrize(
    "path", ["/admin/pages/contact/en", "/admin/pages/about/fr", "/admin/pages/about/en/x"]
)
def test_an_unknown_page_is_a_plain_404(ombuds: OmbudsActions, path: str) -> None:
    response = ombuds.client.get(path)
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_resetting_an_unknown_page_is_a_404(ombuds: OmbudsActions, services: Services) -> None:
    assert ombuds.post("/admin/pages/contact/en/reset").status_code == 404
    assert ombuds.post("/admin/pages/about/fr", {"markdown": "# T\n"}).status_code == 404
    assert _rows(services) == []
