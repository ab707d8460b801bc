"""A real API server over the embedded store for the browser tests, with a bank that has a hub,
a path of three hops, a transfer ring with known fraud inside and a vouch."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from api.app import build_app, build_service
from api.keys import create_key
from etl.load import Loader
from graph.store import GraphStore
from notify.senders import LocalSender
from risk.policy import without_model_policy

HUB = "H"
HUB_FRIENDS = 45  # more than two pages of 20


def write_bank(folder: Path) -> None:
    """H with 45 friends; A (known fraud) is H's friend and B's spouse; B, C, D a chain of
    relations (A to D: three hops); R1 -> R2 -> R3 -> R1 move money (R2 known fraud); B vouched
    for A."""
    people = ["H", "A", "B", "C", "D", "R1", "R2", "R3"] + [f"F{i:02d}" for i in range(HUB_FRIENDS)]
    rows = ["customer_id,name,id_number,gender,birth_date,opened_at,status"]
    rows += [f"{c},Name {c},ID{c},F,1985-01-01,2015-01-01,active" for c in people]
    (folder / "customers.csv").write_text("\n".join(rows) + "\n")
    relations = ["src_id,dst_id,category,kind,source,since"]
    relations += [
        f"{HUB},F{i:02d},SOCIAL,friend,bank,2024-0{1 + i % 9}-01" for i in range(HUB_FRIENDS)
    ]
    relations += [
        f"{HUB},A,SOCIAL,friend,bank,2024-01-01",
        "A,B,KIN,spouse,bank,2020-01-01",
        "B,C,SOCIAL,colleague,bank,2021-01-01",
        "C,D,KIN,sibling,bank,2022-01-01",
    ]
    (folder / "relations.csv").write_text("\n".join(relations) + "\n")
    (folder / "transfers.csv").write_text(
        "transfer_id,src_id,dst_id,amount,ts\n"
        "T1,R1,R2,1000.5,2025-03-01\nT2,R2,R3,900.25,2025-03-02\nT3,R3,R1,800,2025-03-03\n"
        "T4,R1,A,50,2025-04-01\n"
    )
    (folder / "labels.csv").write_text(
        "customer_id,label,kind,ts\nA,1,fraud,2025-05-01\nR2,1,mule,2025-05-01\n"
    )
    (folder / "vouches.csv").write_text(
        "vouch_id,guarantor_id,customer_id,business,ts,outcome\n"
        "V1,B,A,CROSS_BORDER_TRANSFER,2025-02-01,FRAUD_REPORTED\n"
    )


@dataclass
class Server:
    url: str
    keys: dict[str, str]  # role -> key


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(store: GraphStore, folder: Path) -> Iterator[Server]:
    """Load the bank into `store`, make a key per role, serve the whole app on loopback."""
    store.clear()
    store.ensure_schema()
    write_bank(folder)
    report = Loader(store, progress=False).load(folder)
    assert report.rows_rejected == 0, [f.rejections for f in report.files]
    service = build_service(
        store=store,
        policy=without_model_policy(graph_risk_points=0),
        sender=LocalSender(folder / "outbox.log"),
        scorer=None,
        deadline_s=10,
    )
    keys = {
        role: create_key(store, role, f"web-{role}")[1] for role in ("analyst", "admin", "kiosk")
    }
    port = _free_port()
    config = uvicorn.Config(
        build_app(service), host="127.0.0.1", port=port, log_level="error", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{port}", keys)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.clear()
