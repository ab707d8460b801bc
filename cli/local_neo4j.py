"""`vouchgraph neo4j start|stop|status`: the local Neo4j for development and tests."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from graph import neo4j_local


def cmd_neo4j(args: argparse.Namespace) -> int:
    home = neo4j_local.default_home()
    if args.action == "start":
        server = neo4j_local.ensure_running(home)
        if args.env:
            print(server.shell_lines(), end="")
        elif args.json:
            print(json.dumps(neo4j_local.status(home), indent=2, sort_keys=True))
        else:
            print(
                f"local Neo4j {neo4j_local.NEO4J_VERSION} running at {server.uri} "
                f"(pid {server.pid}), data in {home}; point the service at it with "
                '`eval "$(vouchgraph neo4j start --env)"`'
            )
        return 0
    if args.action == "stop":
        stopped = neo4j_local.stop(home)
        print("local Neo4j stopped" if stopped else "local Neo4j not running")
        return 0
    status: dict[str, Any] = neo4j_local.status(home)
    if args.env:
        running = neo4j_local.running(home)
        if running is None:
            print("vouchgraph: local Neo4j not running", file=sys.stderr)
            return 1
        print(running.shell_lines(), end="")
    elif args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    elif status["state"] == "running":
        print(f"running at {status['uri']} (pid {status['pid']}), data in {status['home']}")
    else:
        print(f"{status['state']} (data in {status['home']})")
    return 0 if status["state"] == "running" else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `neo4j` command to the CLI's sub-parsers."""
    neo4j = sub.add_parser("neo4j", help="start, stop or show the local Neo4j (tests, dev)")
    neo4j.add_argument("action", choices=("start", "stop", "status"))
    neo4j.add_argument("--json", action="store_true", help="print the status as JSON")
    neo4j.add_argument(
        "--env", action="store_true", help="print shell lines that point the service at it"
    )
    neo4j.set_defaults(func=cmd_neo4j)
