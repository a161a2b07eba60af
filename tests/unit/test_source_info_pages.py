"""The information pages on the source side: language, admin edits, sanitizing, errors."""

from __future__ import annotations

from typing import Any

import pytest

from securedrop_lite.infopages import SLUGS
from securedrop_lite.services import Services
from securedrop_lite.web.headers import CONTENT_SECURITY_POLICY


def _choose_language(client: Any, language: str) -> None:
    """Keep the language in the sealed server-side session, as the language links do."""
    with client.session_transaction() as session:
        session["lang"] = language


@pytest.mark.parametrize("slug", SLUGS)
def test_each_page_renders_in_english_by_default(
    client: Any, services: Services, slug: str
) -> None:
    response = client.get(f"/info/{slug}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    shipped = services.info_pages.get(slug, "en")
    assert str(shipped.html) in page
    assert f"<title>{shipped.title} ·" in page


@pytest.mark.parametrize("slug", SLUGS)
def test_each_page_links_to_the_other_two_by_their_titles(
    client: Any, services: Services, slug: str
) -> None:
    page = client.get(f"/info/{slug}").get_data(as_text=True)
    for other in SLUGS:
        if other != slug:
            title = services.info_pages.get(other, "en").title
            assert f'<a href="/info/{other}">{title}</a>' in page


def test_a_visitor_who_chose_spanish_reads_the_spanish_default(
    client: Any, services: Services
) -> None:
    _choose_language(client, "es")
    page = client.get("/info/about").get_data(as_text=True)
    spanish = services.info_pages.get("about", "es")
    assert str(spanish.html) in page
    assert "riesgo inminente" in page
    assert "imminent risk" not in page
    assert '<article class="info-page" lang="es">' in page


def test_an_unknown_language_in_the_session_falls_back_to_english(client: Any) -> None:
    _choose_language(client, "fr")
    page = client.get("/info/about").get_data(as_text=True)
    assert "imminent risk" in page


def test_an_admins_edited_page_is_shown_to_sources_sanitized(
    client: Any, services: Services
) -> None:
    services.info_pages.save(
        "referrals",
        "en",
        "# Local help\n\n<script>alert(1)</script>\n\n"
        "[Guild](javascript:alert(1)) [Site](https://guild.example)\n\n"
        "![pixel](http://tracker.example/p.gif)\n",
    )
    response = client.get("/info/referrals")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<title>Local help ·" in page
    assert "<h1>Local help</h1>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<a href="https://guild.example" rel="noopener noreferrer nofollow">Site</a>' in page
    assert "tracker.example" not in page
    assert 'href="javascript:' not in page


def test_an_edit_in_one_language_leaves_the_other_alone(client: Any, services: Services) -> None:
    services.info_pages.save("options", "es", "# Opciones de la oficina\n")
    assert "Opciones de la oficina" not in client.get("/info/options").get_data(as_text=True)
    _choose_language(client, "es")
    assert "Opciones de la oficina" in client.get("/info/options").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/info/contact", "/info/ABOUT", "/info/..%2Fabout", "/info/"])
def test_an_unknown_page_is_a_plain_404_page(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "<h1>" in page
    assert "Traceback" not in page
    assert "NoSuchPage" not in page


@pytest.mark.parametrize("slug", SLUGS)
def test_pages_carry_no_script_and_the_apps_csp(client: Any, slug: str) -> None:
    response = client.get(f"/info/{slug}")
    assert "<script" not in response.get_data(as_text=True).lower()
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_a_saved_page_with_hostile_markup_still_carries_no_script(
    client: Any, services: Services
) -> None:
    services.info_pages.save(
        "about", "en", '# About\n\n<img src=x onerror=alert(1)>\n\n<iframe src="http://x"></iframe>'
    )
    page = client.get("/info/about").get_data(as_text=True)
    assert "<p>&lt;img src=x onerror=alert(1)&gt;</p>" in page  # shown as words, inert
    for needle in ("<script", "<img", "<iframe"):
        assert needle not in page.lower(), needle
