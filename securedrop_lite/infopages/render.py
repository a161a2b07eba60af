"""Markdown to HTML that is safe to serve to a Tor Browser: no script, no image, no style."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

# Everything CommonMark and its tables can produce, minus <img>. Anything else is dropped.
ALLOWED_TAGS = frozenset(
    {"h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "pre", "code"}
    | {"em", "strong", "a", "ul", "ol", "li"}
    | {"table", "thead", "tbody", "tr", "th", "td"}
)
# No class, id or style anywhere: the stylesheet alone decides how a page looks.
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
# Relative links (to this site's own pages) pass too: they stay on the onion service.
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
LINK_REL = "noopener noreferrer nofollow"
RENDER_CACHE_SIZE = 64


def _image_as_alt_text(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """Render ![alt](url) as its alt text.

    An image from a clearnet host is a tracking pixel: it tells that host when this
    page was read. Showing the words keeps the meaning without the request.
    """
    children = tokens[idx].children or []
    return str(escape(renderer.renderInlineAsText(children, options, env)))


def _markdown_parser() -> MarkdownIt:
    # "html": False turns raw HTML in the source into visible text; nh3 is the second wall.
    parser = MarkdownIt("commonmark", {"html": False}).enable("table")
    parser.add_render_rule("image", _image_as_alt_text)
    return parser


_PARSER = _markdown_parser()


def sanitize_html(html: str) -> str:
    """Keep only the allowlisted tags, attributes and link schemes; add rel to every link."""
    cleaned: Any = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return str(cleaned)


@lru_cache(maxsize=RENDER_CACHE_SIZE)
def render_markdown(text: str) -> Markup:
    """Render Markdown to sanitized HTML (cached: pages render on every request)."""
    allowed = sanitize_html(_PARSER.render(text))  # nh3, with an allowlist
    return Markup(allowed)  # noqa: S704  # nosec B704
