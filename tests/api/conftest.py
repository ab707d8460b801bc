"""A real API server on loopback over a real store, with a small hand-made bank in it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import Service, build_app, build_service
from api.keys import ROLES, create_key
from etl.load import Loader
from graph.settings import Settings
from graph.store import GraphStore, open_store
from notify.senders import LocalSender
from risk.policy import Policy, without_model_policy

NOW = time.time()
DAY = 86_400


def _iso(days_ago: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - days_ago * DAY))


CONSENTED = (
    "basic_info",
    "face",
    "identity",
    "rejection_history",
    "transactions",
    "credit",
    "vouching_history",
)


def write_bank(folder: Path) -> None:
    """Applicants A (low risk) and B (weak credit), their kin and friends, and C (no consents);
    S (weak credit), whose relatives could stand behind S's own guarantee: S1 has only S's
    phone, S2 uses S's tablet but has a phone of their own, S3, X and S move money in a ring,
    S4's device is also used by X, who shares S's tablet; S5 is S under a second record."""
    people = [
        # id, name, birth, opened, status
        ("A", "Li Ming", "1985-04-01", "2012-01-01", "active"),
        ("B", "Wang Fang", "1984-02-01", "2011-06-01", "active"),
        ("C", "Zhao Lei", "1980-01-01", "2010-01-01", "active"),
        ("G1", "Wang Wei", "1982-03-01", "2009-01-01", "active"),
        ("G2", "Sun Li", "1990-03-01", "2015-01-01", "active"),
        ("G3", "Qian Yu", "1975-03-01", "2026-11-01", "active"),  # account too new
        ("G4", "Zhou Bo", "1979-03-01", "2008-01-01", "closed"),
        ("S", "Ma Lin", "1984-02-01", "2011-06-01", "active"),
        ("S1", "Ma Hua", "1960-02-01", "2005-06-01", "active"),
        ("S2", "Ma Jun", "1986-02-01", "2010-06-01", "active"),
        ("S3", "Ma Qing", "1988-02-01", "2010-06-01", "active"),
        ("S4", "Ma Rui", "1990-02-01", "2010-06-01", "active"),
        ("X", "He Tao", "1990-02-01", "2010-06-01", "active"),
        ("S5", "Ma Lin", "1984-02-01", "2003-06-01", "active"),  # S again, under a 2nd record
        ("K", "Lu Yan", "1984-02-01", "2011-06-01", "active"),  # consents at the kiosk only
        ("KG", "Lu Ping", "1982-02-01", "2009-06-01", "active"),
        ("A2", "Xu Jing", "1985-04-01", "2012-01-01", "active"),  # another low-risk applicant
    ]
    rows = ["customer_id,name,id_number,gender,birth_date,address,city,opened_at,status"]
    id_numbers = {"S5": "IDS"}
    rows += [
        f"{c},{n},{id_numbers.get(c, 'ID' + c)},F,{b},1 Road,Haidu,{o},{s}"
        for c, n, b, o, s in people
    ]
    (folder / "customers.csv").write_text("\n".join(rows) + "\n")
    (folder / "relations.csv").write_text(
        "src_id,dst_id,category,kind,source\n"
        "G1,B,KIN,spouse,bank\nB,G2,SOCIAL,friend,bank\nG3,B,KIN,sibling,bank\n"
        "G4,B,KIN,parent,bank\nG1,A,SOCIAL,colleague,bank\n"
        "S1,S,KIN,parent,bank\nS2,S,KIN,sibling,bank\nS3,S,KIN,sibling,bank\n"
        "S4,S,KIN,sibling,bank\nKG,K,KIN,spouse,bank\nS5,S,KIN,sibling,bank\n"
    )
    transfers = ["transfer_id,src_id,dst_id,amount,ts"]
    for i, (src, dst) in enumerate(
        [("A", "G1"), ("B", "G1"), ("G1", "B"), ("G2", "B"), ("C", "A"), ("G3", "B"), ("G4", "B"),
         ("S", "S3"), ("S3", "X"), ("X", "S"), ("K", "KG"), ("A2", "G2")]
    ):  # fmt: skip
        transfers.append(f"T{i},{src},{dst},{100 + i}.5,{_iso(10 + i)}")
    (folder / "transfers.csv").write_text("\n".join(transfers) + "\n")
    own_phone = [c for c, *_r in people if c != "S1"]  # S1 has only S's phone
    (folder / "phones.csv").write_text(
        "customer_id,phone_number\n"
        + "".join(f"{c},+86138000000{i:02d}\n" for i, c in enumerate(own_phone))
        + f"S1,+86138000000{own_phone.index('S'):02d}\n"
    )
    (folder / "devices.csv").write_text(
        "customer_id,device_id,model,first_seen,last_seen\n"
        + "".join(
            f"{c},{d},phone,2025-01-01,2026-11-01\n"
            for c, d in [("S", "DEV-S"), ("S2", "DEV-S"), ("S3", "DEV-S3"), ("S4", "DEV-S4"),
                         ("X", "DEV-S4"), ("X", "DEV-S"), ("G1", "DEV-G1"), ("G2", "DEV-G2"),
                         ("KG", "DEV-KG")]
        )
    )  # fmt: skip
    (folder / "credit.csv").write_text(
        "customer_id,grade,score,as_of\nA,AAA,800,2026-01-01\nB,BB,600,2026-01-01\n"
        "G1,AAA,820,2026-01-01\nG2,AA,760,2026-01-01\nC,AAA,800,2026-01-01\n"
        "S,BB,600,2026-01-01\nK,BB,600,2026-01-01\nKG,AAA,820,2026-01-01\n"
        "A2,AAA,800,2026-01-01\n"
    )
    consents = ["consent_id,customer_id,category,granted,ts"]
    for who in ("A", "B", "G1", "G2", "S", "KG", "A2"):
        consents += [f"K{who}{n},{who},{cat},true,2025-01-01" for n, cat in enumerate(CONSENTED)]
    (folder / "consents.csv").write_text("\n".join(consents) + "\n")


def lenient_policy() -> Policy:
    """No model is trained in these tests: a missing one scores 0 instead of refusing."""
    return without_model_policy(graph_risk_points=0)


class Clock:
    """A clock the tests can move forward (request expiry)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Api:
    """A running server and what the tests need to drive it."""

    url: str
    service: Service
    store: GraphStore
    keys: dict[str, str]
    clock: Clock
    outbox_log: Path

    def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        role: str | None = "kiosk",
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        headers.update(kwargs.pop("headers", {}))
        return httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
            **kwargs,
        )

    def data(
        self, query: str, variables: dict[str, Any] | None = None, role: str = "kiosk"
    ) -> dict[str, Any]:
        response = self.gql(query, variables, role)
        body = response.json()
        assert "errors" not in body, body
        return body["data"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(service: Service) -> Iterator[str]:
    """Run the app with uvicorn on a free loopback port; stop it on the way out."""
    port = _free_port()
    config = uvicorn.Config(
        build_app(service),
        host="127.0.0.1",
        port=port,
        log_level="error",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def api(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The API over a graph of its own holding the hand-made bank, on this run's backend."""
    from store_fixtures import Neo4jOccupant, backend_settings

    settings: Settings = backend_settings(backend, graph_name="api_tests")
    store = open_store(settings)
    Neo4jOccupant.take("api_tests")
    store.clear()
    folder = tmp_path_factory.mktemp("api-bank")
    write_bank(folder)
    report = Loader(store, progress=False).load(folder)
    assert report.rows_rejected == 0, [f.rejections for f in report.files]
    log = folder / "outbox.log"
    clock = Clock()
    # a deadline the 2-core CI machine meets under load (tests of the deadline set their own)
    service = build_service(
        store=store, policy=lenient_policy(), sender=LocalSender(log), scorer=None, deadline_s=10
    )
    service.flow.clock = clock
    keys = {role: create_key(store, role, f"test-{role}")[1] for role in ROLES}
    keys["kiosk2"] = create_key(store, "kiosk", "test-kiosk2")[1]
    with serving(service) as url:
        yield Api(url, service, store, keys, clock, log)
    store.clear()
