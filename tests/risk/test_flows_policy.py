"""The policy owns every window, cap, band, expiry and message of a flow: the flows' functions
hold no numeric literal beyond 0 and 1 (named constants at module level are units and sizes,
not policy, and each says which)."""

from __future__ import annotations

import ast
from pathlib import Path

FLOWS = Path(__file__).resolve().parents[2] / "risk" / "flows"
ALLOWED = {0, 1}


def _literals_in_functions(path: Path) -> list[tuple[int, object]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for inner in ast.walk(node):
            if (
                isinstance(inner, ast.Constant)
                and isinstance(inner.value, (int, float))
                and not isinstance(inner.value, bool)
                and inner.value not in ALLOWED
            ):
                found.append((inner.lineno, inner.value))
    return found


def test_no_flow_function_hides_a_policy_number() -> None:
    modules = sorted(FLOWS.glob("*.py"))
    assert len(modules) >= 5
    hidden = {
        f"{p.name}:{line}": value for p in modules for line, value in _literals_in_functions(p)
    }
    assert not hidden, f"numbers that belong in the policy (or a named unit): {hidden}"


def test_the_scan_finds_a_hidden_number(tmp_path: Path) -> None:
    module = tmp_path / "flow.py"
    module.write_text("WINDOW_DAYS = 30\n\ndef since(now):\n    return now - 2 * 365 + 0 * 1\n")
    assert sorted(v for _line, v in _literals_in_functions(module)) == [2, 365]
