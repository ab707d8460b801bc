"""The web pages the service serves itself: the landing page, the analyst workbench and GraphiQL.

Everything comes from the bundles `make` builds out of web/ into api/static/ (package data,
not committed): nothing is loaded from a CDN, and the Content-Security-Policy lets a page load
only what this service serves (no inline scripts). The pages need no key; every operation they
send to /graphql does. Without a build the pages answer 503 with what to run, not a traceback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"
ASSETS = STATIC / "assets"

# data: for the fonts and icons inlined in GraphiQL's stylesheet and cytoscape's PNG export;
# blob: for the exports offered as downloads
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
PAGE_CACHE = "no-cache"  # a page names the hashed bundles of the current build
ASSET_CACHE = "public, max-age=31536000, immutable"  # a bundle's name changes with its content

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>VouchGraph: web assets not built</title></head>
<body><h1>The web pages are not built</h1>
<p>This service serves its pages from <code>api/static/</code>, which <code>make</code> builds
from <code>web/</code> (<code>make install</code>, <code>make demo</code> or
<code>make web</code> in the repository). The GraphQL API at <code>/graphql</code> works
without them.</p></body></html>
"""


def _not_built() -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-store"}
    return HTMLResponse(NOT_BUILT, status_code=503, headers=headers)


def page(name: str) -> Response:
    """A built page (index.html, analyst.html, graphiql.html), or 503 without a build."""
    path = STATIC / name
    if not path.is_file():
        return _not_built()
    headers = {**SECURITY_HEADERS, "Cache-Control": PAGE_CACHE}
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=headers)


def graphiql_page() -> Response:
    """GraphiQL from local files: what a browser's GET of /graphql gets too."""
    return page("graphiql.html")


def _page_endpoint(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(_: Request) -> Response:
        return page(name)

    return endpoint


class Assets:
    """The hashed bundles, cached for good, with the pages' security headers; 503 without a
    build (StaticFiles alone would fail on the missing folder)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.files = StaticFiles(directory=directory, check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.directory.is_dir():
            await _not_built()(scope, receive, send)
            return
        await self.files(scope, receive, _with_headers(send))


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            cache = ASSET_CACHE if message.get("status") in (200, 304) else "no-store"
            extra = {**SECURITY_HEADERS, "Cache-Control": cache}
            headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
            message = {**message, "headers": headers}
        await send(message)

    return sending


def routes() -> list[BaseRoute]:
    """The pages and their assets, for the service's route list."""
    assets: ASGIApp = Assets(ASSETS)
    return [
        Route("/", _page_endpoint("index.html")),
        Route("/analyst", _page_endpoint("analyst.html")),
        Route("/analyst/customer/{customer_id}", _page_endpoint("analyst.html")),
        Route("/graphiql", _page_endpoint("graphiql.html")),
        Mount("/static/assets", app=assets),
    ]
