"""`vouchgraph alerts scan`: raise the analysts' alerts (risk.flows.cases), and the demo's
pointer to a ring the workbench can show."""

from __future__ import annotations

import argparse

from cli.output import print_json
from graph import queries as q
from graph.store import GraphStore, open_store
from risk.flows.actor import Actor
from risk.flows.cases import Cases
from risk.flows.explore import EVERY_TIME, Explorer
from risk.flows.kiosk import KioskFlow
from risk.policy import load_policy

DEMO = Actor("vouchgraph:demo", "system")
DEMO_RING_SEEDS = 50  # labelled customers the demo looks around for a ring to show


def cmd_alerts(args: argparse.Namespace) -> int:
    store = open_store()
    try:
        report = Cases(KioskFlow(store, load_policy())).scan()
    finally:
        store.close()
    if args.json:
        print_json({"found": report.found, "created": report.created})
    else:
        for kind, found in report.found.items():
            print(f"{kind:<26} {found:>6} found  {report.created.get(kind, 0):>6} new")
        if not report.found:
            print("no alerts")
    return 0


def ring_example_text(store: GraphStore, base_url: str) -> str:
    """A labelled customer in a ring with known fraud, as a link into the workbench."""
    explorer = Explorer(KioskFlow(store, load_policy()))
    for row in store.run(q.WB_FRAUD_SEEDS, {"limit": DEMO_RING_SEEDS}):
        rings = explorer.rings(DEMO, row["id"], EVERY_TIME)
        found = next(
            (r for r in rings if r.known_fraud and row["id"] in {m.id for m in r.members}), None
        )
        if found is not None:
            return (
                f"explore the mule ring around {row['id']} ({found.size} customers, "
                f"{found.known_fraud} of known fraud) at {base_url}/analyst/customer/{row['id']}"
            )
    return "no ring with known fraud found around the labelled customers"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `alerts` to the `vouchgraph` parser."""
    alerts = sub.add_parser("alerts", help="raise the analysts' alerts the policy's rules find")
    alerts.add_argument("action", choices=("scan",))
    alerts.add_argument("--json", action="store_true")
    alerts.set_defaults(func=cmd_alerts)
