"""The pages' routes without a build: a clear 503 saying what to run, never a traceback."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from api import web


def _get(path: str) -> httpx.Response:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=Starlette(routes=web.routes()))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get(path)

    return anyio.run(get)


@pytest.fixture
def unbuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "STATIC", tmp_path / "static")
    monkeypatch.setattr(web, "ASSETS", tmp_path / "static" / "assets")


@pytest.mark.parametrize(
    "path",
    ["/", "/analyst", "/analyst/customer/C1", "/graphiql", "/static/assets/workbench-ABCDEFGH.js"],
)
@pytest.mark.usefixtures("unbuilt")
def test_a_page_without_a_build_answers_503_saying_to_run_make(path: str) -> None:
    answer = _get(path)
    assert answer.status_code == 503
    assert "make" in answer.text and "Traceback" not in answer.text
    assert "default-src 'self'" in answer.headers["content-security-policy"]


def test_an_asset_outside_the_build_is_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "static" / "assets").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("no")
    monkeypatch.setattr(web, "ASSETS", tmp_path / "static" / "assets")
    assert _get("/static/assets/../../secret.txt").status_code == 404
    assert _get("/static/assets/%2e%2e/%2e%2e/secret.txt").status_code == 404
