"""Information pages for workers (about, options, referrals): shipped defaults, admin edits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources

from markupsafe import Markup
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from securedrop_lite.db import Database
from securedrop_lite.infopages.render import render_markdown
from securedrop_lite.models import InfoPage

__all__ = [
    "LOCALES",
    "MAX_MARKDOWN_CHARS",
    "SLUGS",
    "InfoPageService",
    "InfoPageSummary",
    "InfoPageView",
    "InvalidPage",
    "NoSuchPage",
    "render_markdown",
]

SLUGS = ("about", "options", "referrals")
LOCALES = ("en", "es")
MAX_MARKDOWN_CHARS = 20_000
MAX_TITLE_CHARS = 200
TITLE_PREFIX = "# "


class NoSuchPage(Exception):
    """There is no page with this slug, or not in this language."""


class InvalidPage(ValueError):
    """The Markdown cannot be saved; the message says why, in words for the admin."""


@dataclass(frozen=True)
class InfoPageView:
    slug: str
    locale: str
    title: str
    html: Markup
    markdown: str
    edited: bool


@dataclass(frozen=True)
class InfoPageSummary:
    """One line of the admin's list: which page, whether it was edited, and on which day."""

    slug: str
    locale: str
    title: str
    edited: bool
    updated_on: date | None


def _row(slug: str, locale: str) -> Select[InfoPage]:
    return select(InfoPage).where(InfoPage.slug == slug, InfoPage.locale == locale)


def _check_known(slug: str, locale: str) -> None:
    if slug not in SLUGS or locale not in LOCALES:
        raise NoSuchPage(f"{slug}/{locale}")


@cache
def _shipped(slug: str, locale: str) -> str:
    """Read a default page once: the files ship with the package and never change."""
    path = resources.files("securedrop_lite.infopages").joinpath("defaults", locale, f"{slug}.md")
    return path.read_text(encoding="utf-8")


def normalized(markdown: str) -> str:
    """Return the text with Unix line ends (a textarea sends CRLF) and no trailing blanks."""
    return markdown.replace("\r\n", "\n").replace("\r", "\n").strip("\n") + "\n"


def title_of(markdown: str) -> str:
    """Return the text of the first line's "# " heading, or "" when there is none."""
    first_line = markdown.split("\n", 1)[0]
    if not first_line.startswith(TITLE_PREFIX):
        return ""
    return first_line[len(TITLE_PREFIX) :].strip()


def checked(markdown: str) -> str:
    """Return the normalized Markdown, or raise InvalidPage saying what is wrong."""
    if not markdown.strip():
        raise InvalidPage("The page is empty. Write at least a title line such as “# About”.")
    text = normalized(markdown)
    if len(text) > MAX_MARKDOWN_CHARS:
        raise InvalidPage(
            f"The page is {len(text):,} characters long; the limit is {MAX_MARKDOWN_CHARS:,}."
        )
    title = title_of(text)
    if not title:
        raise InvalidPage("The first line must be the page title, written as “# Title”.")
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidPage(f"The title must be at most {MAX_TITLE_CHARS} characters.")
    return text


class InfoPageService:
    """Reads a page from the database when an admin saved one, else from the shipped file."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def default_markdown(self, slug: str, locale: str) -> str:
        _check_known(slug, locale)
        return _shipped(slug, locale)

    def get(self, slug: str, locale: str) -> InfoPageView:
        """Return the admin's version of the page if one was saved, else the shipped default."""
        _check_known(slug, locale)
        saved = self._saved(slug, locale)
        markdown = saved.markdown if saved is not None else self.default_markdown(slug, locale)
        # A row written by hand may lack a title: the slug stands in rather than a blank tab.
        title = title_of(markdown) or slug
        return InfoPageView(slug, locale, title, render_markdown(markdown), markdown, bool(saved))

    def overview(self) -> list[InfoPageSummary]:
        """Return every slug in every locale, in SLUGS then LOCALES order."""
        with self.db.session() as s:
            rows = {(row.slug, row.locale): row for row in s.scalars(select(InfoPage))}
        summaries = []
        for slug in SLUGS:
            for locale in LOCALES:
                row = rows.get((slug, locale))
                markdown = row.markdown if row else self.default_markdown(slug, locale)
                updated_on = row.updated_on if row else None
                title = title_of(markdown) or slug
                summaries.append(InfoPageSummary(slug, locale, title, bool(row), updated_on))
        return summaries

    def preview(self, markdown: str) -> Markup:
        """Return the sanitized rendering of Markdown that save() would accept, or raise."""
        return render_markdown(checked(markdown))

    def save(self, slug: str, locale: str, markdown: str) -> None:
        """Store the admin's version, after checking it; only the day of the change is kept."""
        _check_known(slug, locale)
        text = checked(markdown)
        try:
            self._upsert(slug, locale, text)
        except IntegrityError:  # another admin created the row meanwhile: update theirs
            self._upsert(slug, locale, text)

    def reset(self, slug: str, locale: str) -> None:
        """Go back to the shipped default by deleting the admin's version."""
        _check_known(slug, locale)
        with self.db.session() as s:
            row = s.scalar(_row(slug, locale))
            if row is not None:
                s.delete(row)

    def _saved(self, slug: str, locale: str) -> InfoPage | None:
        with self.db.session() as s:
            return s.scalar(_row(slug, locale))

    def _upsert(self, slug: str, locale: str, markdown: str) -> None:
        today = self.clock().date()
        with self.db.session() as s:
            row = s.scalar(_row(slug, locale))
            if row is None:
                s.add(InfoPage(slug=slug, locale=locale, markdown=markdown, updated_on=today))
            else:
                row.markdown = markdown
                row.updated_on = today
