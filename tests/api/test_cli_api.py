"""The API's command line: keys, outbox and serve, run as users run them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from tests_api_support import ASSESS, CONSENTS, REQUEST

from graph import queries as q


def _cli(*args: str, graph: str = "api_tests", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**os.environ, "VOUCHGRAPH_GRAPH_NAME": graph, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_keys_create_prints_the_key_once_and_stores_only_its_hash(api: Any) -> None:
    done = _cli("keys", "create", "--role", "analyst", "--name", "fraud-desk", "--json")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["key"].startswith("vg_") and created["role"] == "analyst"
    stored = [r["props"] for r in api.store.run(q.ALL_NODES) if "ApiKey" in r["labels"]]
    assert created["key"] not in json.dumps(stored)
    reply = httpx.post(
        f"{api.url}/graphql",
        json={"query": '{ customer(id: "A") { id } }'},
        headers={"Authorization": f"Bearer {created['key']}"},
    )
    assert reply.json()["data"]["customer"]["id"] == "A"
    bad = _cli("keys", "create", "--role", "root", "--name", "x")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--role" in bad.stderr


def test_outbox_list_shows_the_request_but_never_its_link(api: Any) -> None:
    variables = {
        "input": {
            "customerId": "B",
            "business": "CROSS_BORDER_TRANSFER",
            "kioskId": "K-02",
            "faceSimilarity": 0.72,
            "idCheck": "MATCH",
            "consents": CONSENTS,
        }
    }
    assessment = api.data(ASSESS, variables)["assess"]
    handle = assessment["candidates"][0]["handle"]
    request = api.data(REQUEST, {"id": assessment["id"], "guarantors": [handle]})
    request_id = request["requestAssistedAuth"][0]["id"]
    deadline = time.monotonic() + 10
    while True:
        listed = _cli("outbox", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        mine = [m for m in json.loads(listed.stdout) if m["request_id"] == request_id]
        if (mine and mine[0]["status"] == "DELIVERED") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert mine[0]["guarantor_id"] == "G1" and mine[0]["channel"] == "SMS"  # the spouse
    assert mine[0]["status"] == "DELIVERED" and "token=" not in listed.stdout


def _serve_readyz(env: dict[str, str]) -> httpx.Response:
    """Starts `vouchgraph serve` on a free port, reads /readyz once it answers, stops it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env={**os.environ, "VOUCHGRAPH_GRAPH_NAME": "api_tests", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_is_ready_with_a_promoted_model_and_stops(
    api: Any, trained_model: Any, tmp_path: Path
) -> None:
    registry, result = trained_model
    registry.promote(result.version)
    reply = _serve_readyz({"VOUCHGRAPH_MODEL_DIR": str(registry.root)})
    assert reply.status_code == 200 and reply.json()["status"] == "ready"
    assert reply.json()["model"] == result.version
    # the shipped policy refuses without a model: not ready, and says why
    reply = _serve_readyz({"VOUCHGRAPH_MODEL_DIR": str(tmp_path / "no-models")})
    assert reply.status_code == 503 and reply.json()["reason"] == "NO_MODEL_PROMOTED"
    # a promoted version that cannot be loaded: not ready either, with that reason
    broken = tmp_path / "broken-models"
    broken.mkdir()
    (broken / "PROMOTED").write_text("no-such-version\n")
    reply = _serve_readyz({"VOUCHGRAPH_MODEL_DIR": str(broken)})
    assert reply.status_code == 503 and reply.json()["reason"] == "MODEL_LOAD_FAILED"
