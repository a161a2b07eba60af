"""The landing page is rendered once per language and settings; nothing personal is cached."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from securedrop_lite.services import Services
from securedrop_lite.services.settings import RecentSettings, SettingsService


def test_a_change_of_settings_in_this_process_shows_at_once(
    client: Any, services: Services
) -> None:
    assert "Welcome, crew" not in client.get("/").get_data(as_text=True)
    services.settings.update(replace(services.settings.current(), welcome_text="Welcome, crew"))
    assert "Welcome, crew" in client.get("/").get_data(as_text=True)


def test_each_language_gets_its_own_landing_page(client: Any) -> None:
    english = client.get("/").get_data(as_text=True)
    client.get("/lang/es")
    spanish = client.get("/").get_data(as_text=True)
    client.get("/lang/en")
    assert '<html lang="es">' in spanish
    assert '<html lang="en">' in english
    assert client.get("/").get_data(as_text=True) == english


def test_a_message_for_this_session_is_shown_and_not_kept_for_others(app: Any) -> None:
    first, second = app.test_client(), app.test_client()
    first.get("/")
    with first.session_transaction() as session:
        session["_flashes"] = [("message", "Only for the first visitor")]
    assert "Only for the first visitor" in first.get("/").get_data(as_text=True)
    assert "Only for the first visitor" not in second.get("/").get_data(as_text=True)
    assert "Only for the first visitor" not in first.get("/").get_data(as_text=True)


def test_a_change_made_by_another_process_shows_within_the_max_age(services: Services) -> None:
    now = [100.0]
    recent = RecentSettings(services.settings, 2.0, lambda: now[0])
    other_process = SettingsService(services.db, services.settings.defaults)
    assert recent.current().welcome_text == ""
    other_process.update(replace(other_process.current(), welcome_text="changed elsewhere"))
    now[0] += 1.9
    assert recent.current().welcome_text == ""  # still the copy read 1.9 s ago
    now[0] += 0.1
    assert recent.current().welcome_text == "changed elsewhere"
