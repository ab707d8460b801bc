"""The workbench, the landing page and GraphiQL in a real browser (Debian's Chromium, driven by
Playwright), against a real server over real HTTP and the embedded store. Every request a page
makes is recorded: none may leave 127.0.0.1, and the key never travels in a URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from store_fixtures import backend_settings
from workbench_server import Server, serving

from graph.store import open_store

playwright_sync = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
# one server and one browser for the module: the embedded store only (the pages see the store
# only through the API, which the API tests run on both backends)
pytestmark = pytest.mark.only_backend("falkordb")


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    store = open_store(backend_settings(backend, graph_name="web_tests"))
    with serving(store, tmp_path_factory.mktemp("web-bank")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make install-test` installs Debian's chromium")
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
        )
        yield launched
        launched.close()


@dataclass
class Tab:
    """A page in a fresh browser context, with every request and console error it made."""

    page: object
    context: object
    server: Server
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.server.url + path)

    def sign_in(self, role: str = "analyst") -> str:
        key = self.server.keys[role]
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.locator("#sign-out").wait_for(state="visible")
        return key


@pytest.fixture
def tab(
    server: Server, browser: object, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Tab]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)  # a loaded 2-core CI machine
    opened = Tab(page, context, server)
    context.on("request", lambda r: opened.requests.append(r.url))
    page.on(
        "console",
        lambda m: m.type == "error" and opened.console_errors.append(f"{page.url}: {m.text}"),
    )
    yield opened
    # an artefact of every test: what the page showed at its end
    page.screenshot(path=str(tmp_path / f"{request.node.name}.png"))
    context.close()
    away = [
        u
        for u in opened.requests
        if urlsplit(u).hostname not in ("127.0.0.1", None) and not u.startswith(("data:", "blob:"))
    ]
    assert away == [], f"requests left 127.0.0.1: {away}"
    blocked = [m for m in opened.console_errors if "Content Security Policy" in m]
    assert blocked == [], blocked


def test_the_landing_page_links_the_workbench_graphiql_and_health(tab: Tab) -> None:
    tab.goto("/")
    assert tab.page.get_by_role("heading", name="VouchGraph").is_visible()
    links = {
        a: tab.page.locator(f"#link-{a}").get_attribute("href")
        for a in ("workbench", "graphiql", "health", "ready", "metrics")
    }
    assert links == {
        "workbench": "/analyst",
        "graphiql": "/graphiql",
        "health": "/healthz",
        "ready": "/readyz",
        "metrics": "/metrics",
    }
    tab.page.locator("#link-health").click()
    assert json.loads(tab.page.locator("body").inner_text()) == {"status": "ok"}
    tab.goto("/")
    tab.page.locator("#link-workbench").click()
    assert tab.page.get_by_label("API key").is_visible()


def test_every_page_has_a_strict_policy_and_loads_only_its_own_files(server: Server) -> None:
    for path in ("/", "/analyst", "/analyst/customer/A", "/graphiql"):
        answer = httpx.get(server.url + path)
        assert answer.status_code == 200, path
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "<script>" not in answer.text and "http" not in answer.text.replace(
            "http-equiv", ""
        ), path
    page = httpx.get(server.url + "/analyst").text
    bundle = page.split('src="')[1].split('"')[0]
    asset = httpx.get(server.url + bundle)
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert asset.headers["content-type"].startswith("text/javascript")


def test_a_browser_asking_graphql_for_a_page_gets_the_local_graphiql(server: Server) -> None:
    answer = httpx.get(server.url + "/graphql", headers={"Accept": "text/html"})
    assert answer.status_code == 200
    assert "/static/assets/graphiql-" in answer.text
    assert "cdn" not in answer.text.lower() and "unpkg" not in answer.text.lower()


def test_graphiql_loads_from_local_files_and_runs_a_query(tab: Tab) -> None:
    tab.goto("/analyst")
    tab.sign_in()  # GraphiQL in this tab sends the tab's key
    tab.goto("/graphiql")
    editor = tab.page.locator(".graphiql-query-editor .CodeMirror").first
    editor.wait_for()
    editor.click()
    tab.page.keyboard.press("Control+A")
    tab.page.keyboard.press("Delete")
    tab.page.keyboard.type("{ __typename }")
    tab.page.locator(".graphiql-execute-button").click()
    result = tab.page.locator(".graphiql-response .CodeMirror-code")
    result.get_by_text('"Query"').wait_for()
    assert any(u.endswith("/graphql") for u in tab.requests)
    assert tab.page.evaluate("() => localStorage.length") == 0  # GraphiQL keeps to the tab too


def test_signing_in_keeps_the_key_for_this_tab_only_and_signing_out_forgets_it(tab: Tab) -> None:
    tab.goto("/analyst")
    key = tab.sign_in()
    page = tab.page
    assert page.locator("#explore").is_visible()
    assert key not in page.url and all(key not in u for u in tab.requests)
    assert tab.context.cookies() == []
    assert page.evaluate("() => localStorage.length") == 0
    assert page.evaluate("() => Object.values(sessionStorage)") == [key]
    assert page.get_by_label("API key").input_value() == ""
    page.reload()  # the tab keeps it
    page.locator("#sign-out").wait_for(state="visible")
    page.get_by_role("button", name="Sign out").click()
    assert page.get_by_label("API key").is_visible()
    assert page.evaluate("() => sessionStorage.length") == 0
    second = tab.context.new_page()  # another tab never had it
    second.goto(tab.server.url + "/analyst")
    assert second.get_by_label("API key").is_visible()
    second.close()


def test_a_wrong_key_shows_an_error_and_keeps_nothing(tab: Tab) -> None:
    tab.goto("/analyst")
    for wrong in ("not-a-key", "vg_" + "x" * 43):
        tab.page.get_by_label("API key").fill(wrong)
        tab.page.get_by_role("button", name="Sign in").click()
        tab.page.get_by_text("This API key is not valid").wait_for()
        assert tab.page.locator("#explore").is_hidden()
        assert tab.page.evaluate("() => sessionStorage.length") == 0


def test_the_deep_link_opens_that_customers_view_after_sign_in(tab: Tab) -> None:
    tab.goto("/analyst/customer/A")
    tab.sign_in()
    title = tab.page.locator("#customer-title")
    title.wait_for()
    assert title.inner_text() == "Customer A"
    assert tab.page.url.endswith("/analyst/customer/A")
