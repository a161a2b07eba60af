"""Information pages: the sanitizer, the shipped texts, and the admin's saved versions."""

from __future__ import annotations

import re
from datetime import date, datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from markupsafe import Markup
from sqlalchemy import select, text

from securedrop_lite.infopages import (
    LOCALES,
    MAX_MARKDOWN_CHARS,
    SLUGS,
    InfoPageService,
    InvalidPage,
    NoSuchPage,
    render_markdown,
)
from securedrop_lite.infopages.render import ALLOWED_TAGS, LINK_REL, sanitize_html
from securedrop_lite.models import InfoPage
from securedrop_lite.services import Services
from tests.conftest import FrozenClock

FORBIDDEN_IN_MARKUP = ("<script", "onerror", "javascript:", "<img", "<iframe", "style=")
# "" is a link within this site (a path, or a name a browser cannot read as a scheme).
SAFE_SCHEMES = {"", "http", "https", "mailto", "tel"}


class _Tags(HTMLParser):
    """Collect every start tag as written, and every (tag, attribute, value)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.raw: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.raw.append(self.get_starttag_text() or "")
        self.attributes += [(tag, name, value or "") for name, value in attrs]


def _tags(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def assert_inert(html: str) -> None:
    """No active markup: allowlisted tags only, no handlers or styles, only safe link targets.

    Escaped text may still read "<script>": it is shown as words, so the forbidden strings
    are looked for in the tags themselves (and "<" never survives outside a tag).
    """
    parsed = _tags(html)
    markup = " ".join(parsed.raw).lower()
    for needle in FORBIDDEN_IN_MARKUP:
        assert needle not in markup, (needle, html)
    for needle in ("<script", "<img", "<iframe", "<style", "<svg", "<form"):
        assert needle not in html.lower(), (needle, html)
    assert set(parsed.tags) <= ALLOWED_TAGS, html
    for tag, name, value in parsed.attributes:
        assert (tag, name) in {("a", "href"), ("a", "title"), ("a", "rel"), ("ol", "start")}
        if name == "href":
            assert urlsplit(value).scheme.lower() in SAFE_SCHEMES, value


# --- the sanitizer: Markdown in, inert HTML out --------------------------------------------

HOSTILE_MARKDOWN = [
    "<script>alert(1)</script>",
    "before <script>alert(1)</script> after",
    "<img src=x onerror=alert(1)>",
    '<div onclick="alert(1)">block</div>\n\ntext',
    "<iframe src=http://tracker.example/></iframe>",
    "<form action=http://evil.example><input name=x></form>",
    '<p style="background:url(http://tracker.example/p)">styled</p>',
    "<svg onload=alert(1)></svg>",
    "<!-- a comment -->visible",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript&colon;alert(1))",
    "[x](java&#x09;script:alert(1))",
    "[x](<java script:alert(1)>)",
    "[x]( javascript:alert(1))",
    "[x](\tjavascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](DATA:text/html,<script>alert(1)</script>)",
    "[x](vbscript:msgbox(1))",
    "[x](VbScRiPt:msgbox(1))",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "<JAVASCRIPT:alert(1)>",
    '<a href="javascript:alert(1)">raw link</a>',
    "<a href=http://example.org>raw link</a>",
    "![pixel](http://tracker.example/p.gif)",
    '![pixel](http://tracker.example/p.gif "title")',
    "[![pixel](http://tracker.example/p.gif)](http://example.org)",
    "| a | b |\n|:--|--:|\n| <script>alert(1)</script> | ![p](http://t.example/p) |",
    "```html\n<script>alert(1)</script>\n```",
    "    <iframe src=x></iframe>",
    '[x](http://example.org "title" onmouseover=alert(1))',
]


@pytest.mark.parametrize("text", HOSTILE_MARKDOWN)
def test_rendered_markdown_is_inert(text: str) -> None:
    assert_inert(str(render_markdown(text)))


HOSTILE_HTML = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="java&#x09;script:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="javas\ncript:alert(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    "<iframe src=http://tracker.example/></iframe>",
    "<object data=x></object><embed src=x>",
    "<form action=x><input><button>go</button></form>",
    '<p style="color:red" class="c" id="i" onclick="alert(1)">p</p>',
    "<style>p { background: url(http://tracker.example/) }</style>",
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
    '<a href="http://example.org" target="_blank" rel="opener">x</a>',
    "<base href=http://evil.example/><meta http-equiv=refresh content=0>",
    "<link rel=stylesheet href=http://tracker.example/s.css>",
]


@pytest.mark.parametrize("html", HOSTILE_HTML)
def test_the_sanitizer_alone_makes_html_inert(html: str) -> None:
    """The second wall holds even if Markdown ever passed raw HTML through."""
    assert_inert(sanitize_html(html))


def test_raw_html_in_markdown_is_shown_as_text_not_markup() -> None:
    html = str(render_markdown("<b>bold</b> and <script>alert(1)</script>"))
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "&lt;script&gt;" in html
    assert "<b>" not in html


@pytest.mark.parametrize(
    "text",
    ["[x](JaVaScRiPt:alert(1))", "[x](javascript:alert(1))", "[x](data:text/html,x)"],
)
def test_a_link_with_a_forbidden_scheme_becomes_plain_text(text: str) -> None:
    html = str(render_markdown(text))
    assert "<a" not in html
    assert "[x]" in html


def test_a_link_with_a_scheme_outside_the_allowlist_loses_its_target() -> None:
    html = str(render_markdown("[files](ftp://files.example/)"))
    assert "ftp:" not in html
    assert "href" not in html


@pytest.mark.parametrize(
    ("text", "href"),
    [
        ("[site](http://example.org/a)", "http://example.org/a"),
        ("[site](https://example.org/a)", "https://example.org/a"),
        ("[mail](mailto:help@example.org)", "mailto:help@example.org"),
        ("[call](tel:+10000000000)", "tel:+10000000000"),
        ("<https://example.org/auto>", "https://example.org/auto"),
        ("[next page](/info/options)", "/info/options"),
    ],
)
def test_allowed_links_keep_their_target_and_get_rel_noopener_noreferrer_nofollow(
    text: str, href: str
) -> None:
    parsed = _tags(str(render_markdown(text)))
    link = {name: value for tag, name, value in parsed.attributes if tag == "a"}
    assert link == {"href": href, "rel": LINK_REL}
    assert LINK_REL == "noopener noreferrer nofollow"


def test_a_raw_html_link_gets_rel_from_the_sanitizer() -> None:
    html = sanitize_html('<a href="http://example.org" rel="opener" target="_blank">x</a>')
    assert html == f'<a href="http://example.org" rel="{LINK_REL}">x</a>'


def test_images_are_replaced_by_their_alt_text() -> None:
    html = str(render_markdown("See ![the sign-up sheet](http://tracker.example/p.png) here."))
    assert html == "<p>See the sign-up sheet here.</p>\n"


def test_image_alt_text_is_escaped() -> None:
    html = str(render_markdown("![<script>alert(1)</script>](http://t.example/p.png)"))
    assert "&lt;script&gt;" in html
    assert_inert(html)


def test_tables_are_kept_without_their_alignment_styles() -> None:
    html = str(render_markdown("| Who | Phone |\n|:--|--:|\n| Guild | [phone] |"))
    assert _tags(html).tags == ["table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td"]
    assert "style" not in html


def test_headings_lists_emphasis_quotes_and_code_are_kept() -> None:
    text = "# T\n\n## S\n\n- *a*\n- **b**\n\n3. c\n\n> q\n\n`x`\n\n---\n"
    tags = _tags(str(render_markdown(text))).tags
    assert {"h1", "h2", "ul", "li", "em", "strong", "ol", "blockquote", "code", "hr"} <= set(tags)


def test_fenced_code_loses_its_language_class() -> None:
    assert str(render_markdown("```python\nx = 1\n```")) == "<pre><code>x = 1\n</code></pre>\n"


def test_render_returns_markup_and_caches_identical_text() -> None:
    first = render_markdown("# Cached\n\ntext")
    assert isinstance(first, Markup)
    assert render_markdown("# Cached\n\ntext") is first


# --- the shipped defaults -------------------------------------------------------------------

ENGLISH_WORDS = {"the", "and", "you", "your", "is", "are", "of", "to", "with", "for", "what"}
SPANISH_WORDS = {"el", "la", "los", "las", "de", "que", "usted", "su", "con", "para", "por"}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-záéíóúüñ]+", text.lower()))


def _paragraphs(markdown: str) -> list[str]:
    return [block.strip() for block in markdown.split("\n\n") if block.strip()]


@pytest.fixture
def pages(services: Services) -> InfoPageService:
    return services.info_pages


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("locale", LOCALES)
def test_every_default_page_exists_and_starts_with_a_title(
    pages: InfoPageService, slug: str, locale: str
) -> None:
    markdown = pages.default_markdown(slug, locale)
    assert markdown.startswith("# ")
    assert len(markdown) <= MAX_MARKDOWN_CHARS
    view = pages.get(slug, locale)
    assert view.title == markdown.split("\n", 1)[0][2:]
    assert not view.edited
    assert_inert(str(view.html))


@pytest.mark.parametrize("slug", SLUGS)
def test_every_spanish_default_is_spanish_in_every_paragraph(
    pages: InfoPageService, slug: str
) -> None:
    english = pages.default_markdown(slug, "en")
    spanish = pages.default_markdown(slug, "es")
    assert set(_paragraphs(spanish)).isdisjoint(_paragraphs(english))
    for paragraph in _paragraphs(spanish):
        words = _words(paragraph)
        assert not words & ENGLISH_WORDS, paragraph
    assert len(_words(spanish) & SPANISH_WORDS) >= 8
    assert "usted" in _words(spanish)


@pytest.mark.parametrize(
    ("locale", "phrases"),
    [
        ("en", ("legal advice", "formal notice", "imminent risk", "formal complaint")),
        ("es", ("asesoramiento legal", "aviso formal", "riesgo inminente", "denuncia formal")),
    ],
)
def test_the_about_page_says_what_the_ombuds_does_not_do_and_the_limits(
    pages: InfoPageService, locale: str, phrases: tuple[str, ...]
) -> None:
    text = pages.default_markdown("about", locale).lower()
    for phrase in phrases:
        assert phrase in text, phrase


@pytest.mark.parametrize("locale", LOCALES)
def test_the_referrals_page_is_marked_as_examples_and_has_no_phone_numbers(
    pages: InfoPageService, locale: str
) -> None:
    text = pages.default_markdown("referrals", locale)
    assert text.count("[") >= 6  # placeholders for the office to replace
    assert not re.search(r"\d{3}", text), "no real-looking phone numbers in the defaults"
    assert ("Examples" if locale == "en" else "Ejemplos") in text


def test_an_unknown_slug_or_locale_is_no_such_page(pages: InfoPageService) -> None:
    for slug, locale in [("contact", "en"), ("about", "fr"), ("../about", "en"), ("about", "")]:
        with pytest.raises(NoSuchPage):
            pages.get(slug, locale)
        with pytest.raises(NoSuchPage):
            pages.default_markdown(slug, locale)
        with pytest.raises(NoSuchPage):
            pages.save(slug, locale, "# Title\n")
        with pytest.raises(NoSuchPage):
            pages.reset(slug, locale)


# --- saved versions --------------------------------------------------------------------------


def _rows(services: Services) -> list[InfoPage]:
    with services.db.session() as s:
        return list(s.scalars(select(InfoPage)))


def test_save_get_and_reset_round_trip(pages: InfoPageService) -> None:
    pages.save("options", "es", "# Opciones\r\n\r\nTexto *nuevo*.\r\n")
    view = pages.get("options", "es")
    assert (view.title, view.edited) == ("Opciones", True)
    assert view.markdown == "# Opciones\n\nTexto *nuevo*.\n"
    assert view.html == Markup("<h1>Opciones</h1>\n<p>Texto <em>nuevo</em>.</p>\n")
    assert not pages.get("options", "en").edited
    pages.reset("options", "es")
    view = pages.get("options", "es")
    assert not view.edited
    assert view.markdown == pages.default_markdown("options", "es")


def test_saving_again_replaces_the_one_row(services: Services, pages: InfoPageService) -> None:
    pages.save("about", "en", "# One\n")
    pages.save("about", "en", "# Two\n")
    assert [row.markdown for row in _rows(services)] == ["# Two\n"]
    assert pages.get("about", "en").title == "Two"


def test_reset_of_an_unedited_page_changes_nothing(
    services: Services, pages: InfoPageService
) -> None:
    pages.reset("referrals", "en")
    assert _rows(services) == []


def test_updated_on_stores_the_day_only(
    services: Services, pages: InfoPageService, clock: FrozenClock
) -> None:
    pages.save("about", "es", "# Sobre\n")
    (row,) = _rows(services)
    assert type(row.updated_on) is date
    assert not isinstance(row.updated_on, datetime)
    assert row.updated_on == clock().date()
    with services.db.session() as s:
        stored = s.scalar(text("SELECT updated_on FROM info_pages"))
    assert str(stored) == clock().date().isoformat()  # SQLite's text, PostgreSQL's date


def test_overview_lists_every_page_with_its_state(
    pages: InfoPageService, clock: FrozenClock
) -> None:
    pages.save("referrals", "es", "# Ayuda\n")
    overview = pages.overview()
    assert [(p.slug, p.locale) for p in overview] == [(s, lo) for s in SLUGS for lo in LOCALES]
    edited = [p for p in overview if p.edited]
    assert [(p.slug, p.locale, p.title, p.updated_on) for p in edited] == [
        ("referrals", "es", "Ayuda", clock().date())
    ]
    assert all(p.updated_on is None for p in overview if not p.edited)


INVALID_PAGES = [
    ("", "empty"),
    ("   \r\n\n  ", "empty"),
    ("No title line\n\ntext", "first line"),
    ("## A second-level heading\n", "first line"),
    ("#No space\n", "first line"),
    ("#   \n\ntext", "first line"),
    ("\n\ntext\n# Late title", "first line"),
    ("# " + "t" * 201, "at most 200"),
    ("# T\n" + "x" * MAX_MARKDOWN_CHARS, "limit is 20,000"),
]


@pytest.mark.parametrize(("markdown", "reason"), INVALID_PAGES)
def test_invalid_pages_are_refused_saying_why_and_nothing_is_stored(
    services: Services, pages: InfoPageService, markdown: str, reason: str
) -> None:
    with pytest.raises(InvalidPage, match=reason):
        pages.save("about", "en", markdown)
    assert _rows(services) == []
    with pytest.raises(InvalidPage, match=reason):
        pages.preview(markdown)


def test_an_invalid_page_leaves_the_saved_version_in_place(
    services: Services, pages: InfoPageService
) -> None:
    pages.save("about", "en", "# Kept\n")
    with pytest.raises(InvalidPage):
        pages.save("about", "en", "no title")
    assert [row.markdown for row in _rows(services)] == ["# Kept\n"]


def test_a_page_of_exactly_the_limit_is_accepted(pages: InfoPageService) -> None:
    text = "# T\n" + "x" * (MAX_MARKDOWN_CHARS - 5) + "\n"
    assert len(text) == MAX_MARKDOWN_CHARS
    pages.save("about", "en", text)
    assert pages.get("about", "en").edited


def test_saved_pages_are_sanitized_when_read(pages: InfoPageService) -> None:
    pages.save("about", "en", "# Hi\n\n<script>alert(1)</script>\n\n![p](http://t.example/p)")
    assert_inert(str(pages.get("about", "en").html))
