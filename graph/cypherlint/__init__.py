"""Lint every query of graph/queries.py with Neo4j's Cypher front end, plus our subset rules.

`python -m graph.cypherlint` prints one line per problem and exits 1 on any error. The front
end is the npm package `@neo4j-cypher/language-support`, run by `lint.mjs`; each query's example
parameters are declared to it, so an undeclared parameter is an error too.

`lint.mjs` and its npm manifest and lock file are package data of `graph.cypherlint`; the npm
packages themselves are installed outside the package, by `python -m graph.cypherlint
--install` (`make install-test` runs it), into `$VOUCHGRAPH_CYPHERLINT_HOME` or else the user's
cache directory, one directory per lock file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import platformdirs

from graph.queries import ALL, Query

HOME_ENV = "VOUCHGRAPH_CYPHERLINT_HOME"
NODE_FILES = ("lint.mjs", "package.json", "package-lock.json")
FRONT_END = Path("node_modules") / "@neo4j-cypher" / "language-support"
INSTALLED = ".installed"  # holds the digest of the lock file that `npm ci` installed

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


def node_file(name: str) -> Path:
    """One of the Node side's files (NODE_FILES), where the package holds it."""
    return Path(str(resources.files(__name__).joinpath(name)))


def lock_digest() -> str:
    """The first 16 hex digits of the SHA-256 of the shipped package-lock.json."""
    return hashlib.sha256(node_file("package-lock.json").read_bytes()).hexdigest()[:16]


def lint_home(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the npm packages are installed: $VOUCHGRAPH_CYPHERLINT_HOME, or else a directory
    of the user's cache named for the lock file, so a changed lock installs afresh."""
    if environ.get(HOME_ENV):
        return Path(environ[HOME_ENV]).expanduser()
    return Path(platformdirs.user_cache_dir("vouchgraph")) / "cypherlint" / lock_digest()


def is_installed(home: Path) -> bool:
    """Whether `npm ci` of the shipped lock file has completed in `home`."""
    marker = home / INSTALLED
    return (
        marker.is_file()
        and marker.read_text().strip() == lock_digest()
        and (home / FRONT_END).is_dir()
    )


def install(home: Path | None = None) -> tuple[Path, bool]:
    """Installs the front end with `npm ci` into `home` (default: `lint_home()`) unless it is
    there already; returns the directory and whether anything was installed."""
    home = lint_home() if home is None else home
    if is_installed(home):
        return home, False
    npm = shutil.which("npm")
    if npm is None:
        raise LintUnavailable("npm not found on PATH: install Node.js (node and npm) first")
    home.mkdir(parents=True, exist_ok=True)
    (home / INSTALLED).unlink(missing_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(node_file(name), home / name)
    proc = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        capture_output=True,
        text=True,
        cwd=home,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        raise LintUnavailable(f"npm ci failed in {home}: {last}")
    (home / INSTALLED).write_text(lock_digest() + "\n")
    return home, True


def neo4j_problems(queries: list[Query]) -> list[Problem]:
    """Diagnostics of Neo4j's Cypher front end (syntax and semantic analysis)."""
    node = shutil.which("node")
    if node is None:
        raise LintUnavailable("node not found on PATH: install Node.js (node and npm) first")
    home = lint_home()
    if not is_installed(home):
        raise LintUnavailable(
            f"the Cypher front end is not installed in {home}: "
            "run `python -m graph.cypherlint --install`"
        )
    payload = json.dumps([{"name": q.name, "text": q.text, "params": q.params} for q in queries])
    # lint.mjs runs from the package as evaluated text: an ES module given with --eval resolves
    # its imports from the working directory, here the one holding node_modules
    proc = subprocess.run(
        [node, "--input-type=module", "--eval", node_file("lint.mjs").read_text()],
        input=payload,
        capture_output=True,
        text=True,
        cwd=home,
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


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m graph.cypherlint [--install]`: lint every query, or install the front end."""
    parser = argparse.ArgumentParser(prog="python -m graph.cypherlint", description=__doc__)
    parser.add_argument(
        "--install", action="store_true", help="install the npm packages (once per lock file)"
    )
    args = parser.parse_args(argv)
    try:
        if args.install:
            home, fresh = install()
            state = "installed" if fresh else "already installed"
            print(f"cypherlint: the Cypher front end {state} in {home}")
            return 0
        problems = lint()
    except LintUnavailable as exc:
        print(f"cypherlint: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    print(f"cypherlint: {len(ALL)} queries, {errors} errors, {len(problems) - errors} warnings")
    return 1 if errors else 0
