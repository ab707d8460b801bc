"""The project's import graph, read from source with `ast`, and the two checks run on it: the
dependency rule between packages, and circles between modules.

Every import counts: module-level, inside a function, under `if TYPE_CHECKING:`; relative ones
are resolved against the importing module's package. An import names the most specific module
of ours it reaches (`from graph import queries` is `graph.queries`, `from graph.store import
open_store` is `graph.store`); imports of anything else are not ours and are left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("graph", "etl", "ml", "risk", "notify", "api", "cli")

# Which of our packages each package may import (besides itself): README.md, "Layout".
ALLOWED: dict[str, frozenset[str]] = {
    "graph": frozenset(),
    "etl": frozenset({"graph"}),
    "ml": frozenset({"graph"}),
    "notify": frozenset({"graph"}),
    "risk": frozenset({"ml", "graph"}),
    "api": frozenset({"risk", "notify", "ml", "graph"}),
    "cli": frozenset(PACKAGES),
}


@dataclass(frozen=True)
class Import:
    """One import statement's reach into our code: who imports what, and where."""

    source: str  # the importing module, e.g. "api.app"
    target: str  # the imported module of ours, e.g. "graph.store"
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.source} imports {self.target}"


def module_names(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every module of the given top-level packages under `root`, by dotted name."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "node_modules" in parts or "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _resolve(name: str, known: Mapping[str, Path]) -> str | None:
    """The longest dotted prefix of `name` that is one of our modules, if any."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def _base_package(module: str, path: Path, level: int) -> str:
    """The package a relative import of `level` dots starts from, inside `module`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        raise ValueError(f"{path}: relative import beyond the top-level package")
    return ".".join(parts[: len(parts) - (level - 1)])


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> list[Import]:
    """Every import of one of our modules in `path` (the source of `module`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[Import] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _base_package(module, path, node.level)
                base = ".".join(p for p in (package, node.module) if p)
            # `from a import b` reaches module a.b when there is one, else a itself
            names = [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
        for name in names:
            target = _resolve(name, known)
            if target is not None and target != module:
                found.append(Import(module, target, path, node.lineno))
    return found


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> list[Import]:
    """Every import between our modules under `root`."""
    known = module_names(root, packages)
    return [imp for module, path in known.items() for imp in imports_of(module, path, known)]


def layer_violations(
    imports: Iterable[Import], allowed: Mapping[str, frozenset[str]] = ALLOWED
) -> list[str]:
    """The imports that point against the dependency rule, one line each."""
    problems = []
    for imp in imports:
        here, there = imp.source.split(".")[0], imp.target.split(".")[0]
        if here != there and there not in allowed.get(here, frozenset()):
            problems.append(f"{imp} ({here} -> {there} is not allowed)")
    return problems


def strongly_connected(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of a directed graph (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:  # the graph is small: recursion depth is no concern
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(set(edges) | {n for targets in edges.values() for n in targets}):
        if node not in index:
            visit(node)
    return components


def _cycle_through(start: str, members: set[str], edges: Mapping[str, set[str]]) -> list[str]:
    """A shortest import path from `start` back to itself inside one component."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges.get(node, set()) & members):
                if nxt == start:
                    return [*paths[node], start]
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is on no cycle of its component")


def import_cycles(imports: Iterable[Import]) -> dict[tuple[str, ...], str]:
    """Each circle of imports between our modules: its members (sorted) and one path round it,
    `a -> b -> a`."""
    edges: dict[str, set[str]] = {}
    for imp in imports:
        edges.setdefault(imp.source, set()).add(imp.target)
    return {
        tuple(component): " -> ".join(_cycle_through(component[0], set(component), edges))
        for component in strongly_connected(edges)
        if len(component) > 1
    }
