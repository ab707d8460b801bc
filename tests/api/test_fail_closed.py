"""Fail closed: an outage or a missed deadline refuses with a reason, never approves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Api, Clock, lenient_policy, serving, write_bank
from tests_api_support import ASSESS, CONSENTS, DECIDE

from api.app import build_service
from api.keys import create_key
from etl.load import Loader
from graph import embedded
from graph.backends.falkor import FalkorStore
from notify.senders import LocalSender


@pytest.fixture
def own_api(tmp_path: Path) -> Iterator[tuple[Api, Path]]:
    """An API over an embedded server of its own, which the test may stop."""
    data = tmp_path / "data"
    info = embedded.ensure_running(data)
    store = FalkorStore(info.host, info.port, info.password, "fail_closed", 2000)
    folder = tmp_path / "bank"
    folder.mkdir()
    write_bank(folder)
    Loader(store, progress=False).load(folder)
    service = build_service(
        store=store,
        policy=lenient_policy(),
        sender=LocalSender(tmp_path / "outbox.log"),
        deadline_s=2.0,
        scorer=None,
    )
    keys = {"kiosk": create_key(store, "kiosk", "k")[1]}
    try:
        with serving(service) as url:
            yield Api(url, service, store, keys, Clock(), tmp_path / "outbox.log"), data
    finally:
        embedded.stop(data)


def _assess(api: Api, customer: str = "A", face: float = 0.95) -> dict[str, Any]:
    request = {
        "input": {
            "customerId": customer,
            "business": "CROSS_BORDER_TRANSFER",
            "kioskId": "K-09",
            "faceSimilarity": face,
            "idCheck": "MATCH",
            "consents": CONSENTS,
        }
    }
    return api.data(ASSESS, request)["assess"]


def test_store_down_mid_flow_refuses_with_the_reason(own_api: tuple[Api, Path]) -> None:
    api, data = own_api
    assert _assess(api)["outcome"] == "PROCEED"
    needs = _assess(api, "B", 0.72)
    assert needs["outcome"] == "NEEDS_GUARANTOR"
    embedded.stop(data)
    refused = _assess(api)
    assert refused["outcome"] == "REFUSED" and refused["reasons"] == ["SERVICE_UNAVAILABLE"]
    decision = api.data(DECIDE, {"id": needs["id"]})["decide"]
    assert decision["outcome"] == "REFUSE" and decision["reasons"] == ["SERVICE_UNAVAILABLE"]
    assert httpx.get(f"{api.url}/readyz").status_code == 503
    metrics = httpx.get(f"{api.url}/metrics").text
    assert (
        'vouchgraph_fail_closed_total{operation="assess",reason="SERVICE_UNAVAILABLE"} 1.0'
        in metrics
    )
    assert (
        'vouchgraph_fail_closed_total{operation="decide",reason="SERVICE_UNAVAILABLE"} 1.0'
        in metrics
    )


def test_a_missed_deadline_refuses(own_api: tuple[Api, Path]) -> None:
    api, _data = own_api
    api.service.deadline_s = 1e-6
    try:
        request = {
            "input": {
                "customerId": "A",
                "business": "CROSS_BORDER_TRANSFER",
                "kioskId": "K-09",
                "faceSimilarity": 0.95,
                "idCheck": "MATCH",
                "consents": CONSENTS,
            }
        }
        body = httpx.post(
            f"{api.url}/graphql",
            json={"query": ASSESS, "variables": request},
            headers={"Authorization": f"Bearer {api.keys['kiosk']}"},
        ).json()
    finally:
        api.service.deadline_s = 2.0
    assert body["data"]["assess"]["outcome"] == "REFUSED"
    assert body["data"]["assess"]["reasons"] == ["DEADLINE_EXCEEDED"]


def test_no_model_refuses_by_default(own_api: tuple[Api, Path]) -> None:
    from risk.policy import load_policy

    api, _data = own_api
    api.service.flow.policy = load_policy()  # the shipped policy: no model -> refuse
    try:
        result = _assess(api)
    finally:
        api.service.flow.policy = lenient_policy()
    assert result["outcome"] == "REFUSED" and "HARD_NO_MODEL" in result["reasons"]
