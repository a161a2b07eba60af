"""The landing page's baseline: a bare Flask page, served the way `sdlite serve` serves an app.

    python -m bench.web.bare --bind 127.0.0.1:PORT [--workers 1] [--threads 4]

It calls `securedrop_lite.serve.serve`, the very function behind `sdlite serve`, so gunicorn
gets the same options (gthread workers, keep-alive, no access log, the scrubbing logger), the
same allocator tuning and the same idle-timeout middleware; nothing is added to the product.
Only the app differs: one route that returns a static HTML page of about the landing page's
size (3 KiB), with no template, no session, no database, no settings and no extra headers.
"""

from __future__ import annotations

import argparse
import sys

from flask import Flask

from securedrop_lite.serve import serve

MARKER = "bare flask page"
_PARAGRAPH = (
    "<p>A static paragraph of the bare page, which stands for the words of the landing page "
    "so that both send about as many bytes: the ratio then measures the work per request.</p>\n"
)
PAGE = (
    '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8">'
    f"<title>{MARKER}</title></head>\n<body>\n<h1>{MARKER}</h1>\n"
    + _PARAGRAPH * 17
    + "</body>\n</html>\n"
)
IDLE_SECONDS = 300  # the default upload_idle_seconds, which `sdlite serve` passes on


def create_bare_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def index() -> str:
        return PAGE

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web.bare", description=__doc__)
    parser.add_argument("--bind", required=True, help="loopback HOST:PORT")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    serve(create_bare_app, args.bind, args.workers, args.threads, IDLE_SECONDS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
