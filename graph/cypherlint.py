"""Lint every query of graph/queries.py with Neo4j's Cypher front end, plus our subset rules.

`python -m graph.cypherlint` prints one line per problem and exits 1 on any error. The front
end is the npm package `@neo4j-cypher/language-support` (installed under tools/cypherlint by
`make test`); each query's example parameters are declared to it, so an undeclared parameter
is an error too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from graph.queries import ALL, Query

TOOL_DIR = Path(__file__).resolve().parent.parent / "tools" / "cypherlint"

# Constructs outside the subset both engines run (ARCHITECTURE.md, "One Cypher text").
FORBIDDEN = {
    "EXISTS {} subquery": re.compile(r"\bEXISTS\s*\{", re.I),
    "COUNT {} subquery": re.compile(r"\bCOUNT\s*\{", re.I),
    "elementId()": re.compile(r"\belementId\s*\(", re.I),
    "shortestPath": re.compile(r"\b(all)?shortestPath\s*\(", re.I),
    "regular expression =~": re.compile(r"=~"),
    "APOC procedure": re.compile(r"\bapoc\.", re.I),
    "GDS procedure": re.compile(r"\bgds\.", re.I),
}


@dataclass(frozen=True)
class Problem:
    """One lint finding on one query."""

    query: str
    severity: str  # "error" or "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.query}: {self.severity}: {self.message}"


class LintUnavailable(RuntimeError):
    """Node.js or the Cypher front-end package is missing."""


def subset_problems(queries: list[Query]) -> list[Problem]:
    """Constructs our rules forbid, found by pattern."""
    return [
        Problem(q.name, "error", f"uses {what}, outside the Cypher subset both backends run")
        for q in queries
        for what, pattern in FORBIDDEN.items()
        if pattern.search(q.text)
    ]


def neo4j_problems(queries: list[Query]) -> list[Problem]:
    """Diagnostics of Neo4j's Cypher front end (syntax and semantic analysis)."""
    node = shutil.which("node")
    if node is None:
        raise LintUnavailable("node not found on PATH")
    if not (TOOL_DIR / "node_modules" / "@neo4j-cypher" / "language-support").exists():
        raise LintUnavailable(f"run `npm install` in {TOOL_DIR} first")
    payload = json.dumps([{"name": q.name, "text": q.text, "params": q.params} for q in queries])
    proc = subprocess.run(
        [node, "lint.mjs"],
        input=payload,
        capture_output=True,
        text=True,
        cwd=TOOL_DIR,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise LintUnavailable(f"lint.mjs failed: {proc.stderr.strip()[-500:]}")
    return [
        Problem(d["name"], "error" if d["severity"] == 1 else "warning", d["message"])
        for d in json.loads(proc.stdout)
    ]


def lint(queries: list[Query] | None = None) -> list[Problem]:
    """All problems of the given queries (default: every query of the project)."""
    queries = list(ALL if queries is None else queries)
    return subset_problems(queries) + neo4j_problems(queries)


def main() -> int:
    try:
        problems = lint()
    except LintUnavailable as exc:
        print(f"cypherlint: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    print(f"cypherlint: {len(ALL)} queries, {errors} errors, {len(problems) - errors} warnings")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
