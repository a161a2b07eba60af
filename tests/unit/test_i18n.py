"""English and Spanish on the source side: a complete catalog, and every page fully translated."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import force_locale
from werkzeug.exceptions import NotFound, default_exceptions

from securedrop_lite.config import MIB
from securedrop_lite.crypto import EncryptionError
from securedrop_lite.infopages import SLUGS
from securedrop_lite.services import Services
from securedrop_lite.web.forms import CsrfFailed
from securedrop_lite.web.hosts import UnknownHost
from securedrop_lite.web.session import COOKIE_NAME
from source_interface import create_app, errors
from tests.conftest import FrozenClock, SourceActions, csrf_token
from tests.unit.source_pages import SeenPage, every_source_page

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "source_interface" / "translations"
SPANISH_PO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"
SPANISH_MO = SPANISH_PO.with_suffix(".mo")
# The keywords `make translations` passes to pybabel, on top of Babel's defaults.
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "lazy_ngettext": (1, 2)}

# printf-style conversions as Python's % applies them (Jinja's newstyle gettext too).
_PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
_TAG = re.compile(r"<[^>]+>")
# A second net, for English that never reached the catalog (a string left unwrapped):
# words that are common in English and are not Spanish words.
ENGLISH_WORDS = re.compile(r"\b(?:the|your|you|please|this|with|and|was|were)\b", re.IGNORECASE)
# Fragments that read the same in both languages: an English page may show them, and so
# may a Spanish one.
SAME_IN_BOTH = {
    "Error",  # "Error %(code)d." is "Error 404." in Spanish too
    "MiB",  # the unit in "File (optional, up to %(size)d MiB)"
}


def extracted_catalog() -> Catalog:
    """Extract the messages from the code now, as `make translations` does."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    catalog = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def messages(catalog: Catalog) -> dict[Any, Message]:
    return {message.id: message for message in catalog if message.id}


def forms(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


_TAG = re.compile(r"</?[a-z]+>")


def placeholders(text: str) -> list[str]:
    return sorted(p for p in _PLACEHOLDER.findall(text) if p != "%%")


def translation_problems(message: Message) -> list[str]:
    """Say what is wrong with one translated entry, if anything."""
    if message.fuzzy:
        return ["fuzzy"]
    originals, translations = forms(message.id), forms(message.string or "")
    if len(translations) != len(originals) or not all(t.strip() for t in translations):
        return ["untranslated"]
    problems = []
    for original, translation in zip(originals, translations, strict=True):
        if placeholders(original) != placeholders(translation):
            problems.append(f"placeholders {placeholders(translation)} in {translation!r}")
        if "%" in _PLACEHOLDER.sub("", translation):  # Jinja would fail to format it
            problems.append(f"a stray % in {translation!r}")
        # Templates render a translation as markup, so it may carry exactly the tags of
        # its original and nothing else: a translator cannot add a <meta refresh> or a link.
        if sorted(_TAG.findall(original)) != sorted(_TAG.findall(translation)):
            problems.append(f"tags {_TAG.findall(translation)} in {translation!r}")
        if "<" in _TAG.sub("", translation) or ">" in _TAG.sub("", translation):
            problems.append(f"a stray angle bracket in {translation!r}")
    return problems


def test_the_spanish_catalog_translates_every_message() -> None:
    wanted = set(messages(extracted_catalog()))
    spanish = read_catalog(SPANISH_PO)
    assert sorted(map(str, wanted - set(messages(spanish)))) == [], "run `make translations`"
    assert sorted(map(str, set(messages(spanish)) - wanted)) == [], "run `make translations`"
    assert not spanish.obsolete
    assert set(messages(read_catalog(TRANSLATIONS / "messages.pot"))) == wanted
    assert str(spanish.locale) == "es"
    assert spanish.num_plurals == 2
    assert spanish.plural_expr == "(n != 1)"
    problems = {
        str(message.id): found
        for message in messages(spanish).values()
        if (found := translation_problems(message))
    }
    assert problems == {}


def test_the_committed_mo_file_is_compiled_from_the_po_file() -> None:
    with SPANISH_MO.open("rb") as f:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(f) if m.id}
    written = {_key(m.id): _key(m.string) for m in read_catalog(SPANISH_PO) if m.id}
    assert compiled == written, "run `make translations` and commit the .mo file"


def _key(value: str | Iterable[str] | None) -> str | tuple[str, ...]:
    return value if isinstance(value, str) else tuple(value or ())


class _VisibleText(HTMLParser):
    """Collect what a reader sees or hears: text, the title, labels in attributes.

    Text that is not ours to translate is left out: the codename (English words), what
    the worker and the ombuds wrote, and the admin's settings (one text per instance,
    not per language: the welcome text and the response-time promise).
    """

    SHOWN_ATTRIBUTES = ("placeholder", "aria-label", "title", "alt")
    NOT_OURS = frozenset({"codename", "reply-text", "entry-text", "welcome", "promise"})
    VOID = frozenset({"br", "hr", "img", "input", "link", "meta"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0  # depth inside an element whose text is not ours

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        names = {attributes.get("id"), *(attributes.get("class") or "").split()}
        if tag not in self.VOID and (self.skipping or names & self.NOT_OURS):
            self.skipping += 1
        if not self.skipping:
            self.parts += [v for name, v in attrs if name in self.SHOWN_ATTRIBUTES and v]

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and tag not in self.VOID:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def english_fragments(catalog: Catalog) -> set[str]:
    """Return every stretch of English text between the placeholders of the messages."""
    texts = [text for message in catalog if message.id for text in forms(message.id)]
    # Werkzeug's own wording of each status must not reach a source page either.
    for exception in default_exceptions.values():
        texts += [exception().name, exception.description or ""]
    fragments = set()
    for text in texts:
        for piece in _PLACEHOLDER.split(" ".join(_TAG.sub("", text).split())):
            fragment = piece.strip(" .,:;!?()·")
            if len(re.sub(r"\W", "", fragment)) >= 3 and fragment not in SAME_IN_BOTH:
                fragments.add(fragment)
    return fragments


def english_left(page: SeenPage, fragments: set[str]) -> list[str]:
    """Return the English messages, and common English words, that the page shows."""
    text = visible_text(page.html)
    found = {f for f in fragments if re.search(rf"(?<!\w){re.escape(f)}(?!\w)", text)}
    return sorted(found | set(ENGLISH_WORDS.findall(text)))


@pytest.fixture
def second_source(config: Any, clock: FrozenClock, services: Services) -> SourceActions:
    """Another worker, on their own client, on the same instance and clock."""
    app = create_app(config, services)
    app.config["TESTING"] = True
    return SourceActions(app.test_client())


def test_every_source_page_renders_fully_in_spanish(
    source: SourceActions,
    second_source: SourceActions,
    services: Services,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with monkeypatch.context() as patch:
        spanish = every_source_page(source, services, clock, patch, language="es")
    clock.advance(timedelta(minutes=5))  # the key is usable again, past the monitor's cache
    english = every_source_page(second_source, services, clock, monkeypatch, language="en")
    assert [(p.name, p.status) for p in spanish] == [(p.name, p.status) for p in english]
    fragments = english_fragments(read_catalog(SPANISH_PO))
    for page in spanish:
        assert '<html lang="es">' in page.html, page.name
        assert english_left(page, fragments) == [], page.name
    # The check can fail: it finds English on every English page.
    for page in english:
        assert '<html lang="en">' in page.html, page.name
        assert english_left(page, fragments), page.name
    index = next(p for p in english if p.name == "index")
    assert "Talk to the ombuds, without saying who you are" in english_left(index, fragments)
    csrf = next(p for p in english if p.name == "csrf refused")
    assert "This form has expired, or it did not come from this site" in " ".join(
        english_left(csrf, fragments)
    )


def test_the_information_pages_in_spanish_show_the_spanish_defaults(
    client: Any, services: Services
) -> None:
    assert client.get("/lang/es?next=/info/about").headers["Location"] == "/info/about"
    for slug in SLUGS:
        page = client.get(f"/info/{slug}").get_data(as_text=True)
        spanish, english = services.info_pages.get(slug, "es"), services.info_pages.get(slug, "en")
        assert str(spanish.html) in page
        assert f"<title>{spanish.title} ·" in page
        assert str(english.html) not in page


def test_the_language_choice_survives_login_and_the_logout_page_stays_in_spanish(
    source: SourceActions,
) -> None:
    client = source.client
    source.signup()
    client.get("/logout")
    client.get("/lang/es")
    before = client.get_cookie(COOKIE_NAME).value
    assert source.login().status_code == 302
    assert client.get_cookie(COOKIE_NAME).value != before  # login regenerated the session
    lookup = client.get("/lookup").get_data(as_text=True)
    assert '<html lang="es">' in lookup
    assert 'id="consent-needed"' in lookup  # a fresh session: consent is asked again
    logout = client.get("/logout").get_data(as_text=True)
    assert '<html lang="es">' in logout
    assert "Ha cerrado la sesión" in logout


def test_an_unknown_language_code_is_ignored(client: Any) -> None:
    assert client.get("/lang/fr").status_code == 302
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)
    client.get("/lang/es")
    assert client.get("/lang/xx-evil").status_code == 302
    assert '<html lang="es">' in client.get("/").get_data(as_text=True)


def test_a_downloaded_entry_is_worded_in_spanish(source: SourceActions) -> None:
    client = source.client
    source.signup()
    client.get("/lang/es")
    token = csrf_token(client.get("/log/new").get_data(as_text=True))
    saved = client.post("/log/new", data={"csrf_token": token, "what": "Otra vez."})
    ref = saved.headers["Location"].rsplit("/", 1)[1]
    document = client.get(f"/log/{ref}/1/receipt").get_data(as_text=True)
    assert "Una anotación de un registro privado de incidentes" in document
    assert "Qué pasó:\nOtra vez." in document


def _spanish_client(source: SourceActions) -> Any:
    source.signup()
    source.client.get("/lang/es")
    return source.client


def _description(response: Any) -> str:
    match = re.search(r'<p id="error-description">([^<]*)</p>', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


def test_a_csrf_failure_is_explained_in_spanish(source: SourceActions) -> None:
    response = _spanish_client(source).post("/submit", data={"msg": "no token"})
    assert response.status_code == 400
    assert _description(response).startswith("Este formulario ha caducado")


def test_not_found_and_method_not_allowed_are_explained_in_spanish(
    source: SourceActions,
) -> None:
    client = _spanish_client(source)
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "<h1>Página no encontrada</h1>" in missing.get_data(as_text=True)
    assert _description(missing).startswith("No hay nada en esta dirección")
    not_allowed = client.get("/submit")
    assert not_allowed.status_code == 405
    assert "<h1>Acción no permitida</h1>" in not_allowed.get_data(as_text=True)


def test_a_body_over_the_limit_is_refused_in_spanish(
    source: SourceActions, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _spanish_client(source)
    small = replace(services.settings.current(), max_upload_bytes=MIB, allow_uploads=False)
    services.settings.update(small)
    response = client.post(
        "/submit", data=b"x" * (2 * MIB), content_type="multipart/form-data; boundary=x"
    )
    assert response.status_code == 413
    assert response.headers["Connection"] == "close"
    assert "<h1>Envío demasiado grande</h1>" in response.get_data(as_text=True)
    assert _description(response).startswith("Lo que ha enviado supera el tamaño")


def test_a_storage_failure_is_explained_in_spanish(
    source: SourceActions, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _spanish_client(source)

    def broken(*args: object) -> None:
        raise EncryptionError("gpg: disk full")

    monkeypatch.setattr(services.key, "encrypt", broken)
    token = csrf_token(client.get("/lookup").get_data(as_text=True))
    response = client.post("/submit", data={"csrf_token": token, "msg": "not kept"})
    assert response.status_code == 503
    assert _description(response) == (
        "No se ha podido guardar su envío, y no se ha conservado nada de él. "
        "Inténtelo de nuevo más tarde, por favor."
    )


def test_an_error_raised_with_its_own_words_keeps_them(source: SourceActions) -> None:
    response = _spanish_client(source).get("/log/" + "0" * 32)
    assert response.status_code == 404
    assert _description(response) == "Aquí no hay nada, o se ha borrado."


def test_the_ombuds_app_shows_the_same_errors_in_english(journalist_app: Any, ombuds: Any) -> None:
    refused = journalist_app.test_client().post("/login", data={"username": "alice"})
    assert refused.status_code == 400
    assert CsrfFailed.description in refused.get_data(as_text=True)
    missing = ombuds.client.get("/no-such-page")
    assert missing.status_code == 404
    assert "<h1>Not Found</h1>" in missing.get_data(as_text=True)
    assert NotFound.description in missing.get_data(as_text=True)
    not_allowed = ombuds.client.get("/reply")
    assert not_allowed.status_code == 405
    assert "<h1>Method Not Allowed</h1>" in not_allowed.get_data(as_text=True)
    for response in (refused, missing, not_allowed):
        assert 'lang="es"' not in response.get_data(as_text=True)
        assert "por favor" not in response.get_data(as_text=True)


def _all_error_words() -> Iterator[Any]:
    yield from errors.TITLES.values()
    yield from errors.DESCRIPTIONS.values()
    yield from errors.DESCRIPTIONS_BY_CODE.values()
    yield from (errors.ANY_TITLE, errors.ANY_DESCRIPTION, errors.NOTHING_STORED)


def test_each_listed_error_translation_matches_its_english_original(app: Any) -> None:
    # The translations are listed under the English words of securedrop_lite.web and of
    # Werkzeug: if one of those changes, its Spanish version must be written again.
    with app.test_request_context():
        for code, title in errors.TITLES.items():
            assert str(title) == default_exceptions[code]().name
        for cls, description in errors.DESCRIPTIONS.items():
            assert str(description) == cls.description, cls.__name__
        for words in _all_error_words():
            with force_locale("es"):
                spanish = str(words)
            assert spanish, str(words)
            assert spanish != str(words), str(words)


def test_the_unknown_host_page_has_spanish_words_too(app: Any) -> None:
    # A browser sends no cookie to a host it did not get one from, so in practice this page
    # shows in the default language; its words are translated all the same.
    with app.test_request_context(), force_locale("es"):
        title, description = errors.describe(UnknownHost())
        assert (str(title), str(description)) == (
            "Solicitud no válida",
            "Este sitio no responde a esa dirección.",
        )


def test_a_translation_that_adds_markup_is_refused() -> None:
    hostile = Message(
        "Leave this site",
        'Salir<meta http-equiv="refresh" content="0;url=http://phish.example/">',
    )
    assert any("tags" in p or "angle" in p for p in translation_problems(hostile))
    bold = Message("a <strong>b</strong>", "a <strong>b</strong> <em>c</em>")
    assert any("tags" in p for p in translation_problems(bold))
    fine = Message("a <strong>b</strong>", "una <strong>be</strong>")
    assert translation_problems(fine) == []
