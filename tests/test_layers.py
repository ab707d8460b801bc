"""Dependencies point one way and no modules import each other in a circle (README.md, "Layout"):
`cli -> api -> risk -> ml -> graph`, `api -> notify -> graph`, `etl -> graph`."""

from __future__ import annotations

from pathlib import Path

from import_graph import Import, import_cycles, import_graph, layer_violations

ROOT = Path(__file__).resolve().parent.parent


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_every_import_of_ours_follows_the_dependency_rule() -> None:
    assert layer_violations(import_graph(ROOT)) == []


def test_no_modules_of_ours_import_each_other_in_a_circle() -> None:
    assert import_cycles(import_graph(ROOT)) == {}


def test_the_project_graph_is_read_at_all() -> None:
    edges = {(i.source, i.target) for i in import_graph(ROOT)}
    assert ("cli.main", "cli.model") in edges and ("api.app", "notify.outbox") in edges


def test_an_upward_import_inside_a_function_is_a_violation(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "graph/__init__.py": "",
            "graph/store.py": "def f():\n    from risk.rules import rule\n    return rule\n",
            "risk/__init__.py": "",
            "risk/rules.py": "from graph.store import f\nrule = f\n",
        },
    )
    problems = layer_violations(import_graph(root))
    assert len(problems) == 1
    assert "graph.store imports risk.rules (graph -> risk is not allowed)" in problems[0]
    assert "graph/store.py:2:" in problems[0]


def test_a_type_checking_import_counts(tmp_path: Path) -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from api.app import App\n"
    root = write(tmp_path, {"ml/__init__.py": source, "api/__init__.py": "", "api/app.py": ""})
    assert [p.split(": ", 1)[1] for p in layer_violations(import_graph(root))] == [
        "ml imports api.app (ml -> api is not allowed)"
    ]


def test_relative_imports_are_resolved_against_their_package(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "etl/__init__.py": "from . import load\n",
            "etl/load.py": "from .synth.gen import make\nfrom .. import graph\n",
            "etl/synth/__init__.py": "",
            "etl/synth/gen.py": "from ..load import x\nfrom ...graph.store import y\n",
            "graph/__init__.py": "",
            "graph/store.py": "",
        },
    )
    edges = {(i.source, i.target) for i in import_graph(root)}
    assert edges == {
        ("etl", "etl.load"),
        ("etl.load", "etl.synth.gen"),
        ("etl.load", "graph"),
        ("etl.synth.gen", "etl.load"),
        ("etl.synth.gen", "graph.store"),
    }


def test_a_circle_is_reported_by_its_module_names(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "cli/__init__.py": "",
            "cli/main.py": "from cli.model import register\n",
            "cli/model.py": "def p():\n    from cli.main import out\n",
            "cli/output.py": "",
            "etl/__init__.py": "",
            "etl/a.py": "import etl.b\n",
            "etl/b.py": "from etl import c\n",
            "etl/c.py": "from etl.a import x\n",
        },
    )
    assert import_cycles(import_graph(root)) == {
        ("cli.main", "cli.model"): "cli.main -> cli.model -> cli.main",
        ("etl.a", "etl.b", "etl.c"): "etl.a -> etl.b -> etl.c -> etl.a",
    }


def test_imports_in_one_direction_make_no_circle() -> None:
    chain = [Import("a", "b", Path("a.py"), 1), Import("b", "c", Path("b.py"), 1)]
    assert import_cycles(chain) == {}
