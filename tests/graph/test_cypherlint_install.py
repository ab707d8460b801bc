"""The Cypher lint's Node side ships inside `graph.cypherlint`, its npm packages live outside the
package, and the lint runs from wherever the package is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from graph import cypherlint
from graph.cypherlint import (
    HOME_ENV,
    NODE_FILES,
    LintUnavailable,
    install,
    is_installed,
    lint_home,
    lock_digest,
    neo4j_problems,
)
from graph.queries import Query

ROOT = Path(__file__).resolve().parents[2]
TYPO = Query("typo", "MATCH (c:Customer {id: $id}) RETRN c", {"id": "C1"})


def installed_home(tmp_path: Path) -> Path:
    """A home of its own that borrows the installed front end's node_modules."""
    home = tmp_path / "lint-home"
    home.mkdir()
    (home / "node_modules").symlink_to(lint_home() / "node_modules", target_is_directory=True)
    (home / cypherlint.INSTALLED).write_text(lock_digest() + "\n")
    return home


def test_the_node_side_is_package_data_of_graph_cypherlint() -> None:
    package = ROOT / "graph" / "cypherlint"
    for name in NODE_FILES:
        assert cypherlint.node_file(name) == package / name
        assert (package / name).is_file()


def test_the_default_home_is_in_the_user_cache_and_named_for_the_lock_file() -> None:
    home = lint_home({})
    assert home == Path(platformdirs.user_cache_dir("vouchgraph")) / "cypherlint" / lock_digest()


def test_the_environment_names_the_home(tmp_path: Path) -> None:
    assert lint_home({HOME_ENV: str(tmp_path)}) == tmp_path


def test_the_lint_runs_in_the_home_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOME_ENV, str(installed_home(tmp_path)))
    assert {p.query for p in neo4j_problems([TYPO]) if p.severity == "error"} == {"typo"}


def test_install_into_an_installed_home_does_nothing_and_needs_no_npm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = installed_home(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    assert install(home) == (home, False)


def test_without_npm_install_fails_with_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with pytest.raises(LintUnavailable) as caught:
        install(tmp_path / "empty")
    assert "npm" in str(caught.value) and "\n" not in str(caught.value)


def test_a_home_from_another_lock_file_is_not_installed(tmp_path: Path) -> None:
    home = installed_home(tmp_path)
    (home / cypherlint.INSTALLED).write_text("0123456789abcdef\n")
    assert not is_installed(home)


def test_the_lint_before_install_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "empty"))
    with pytest.raises(LintUnavailable, match=r"python -m graph\.cypherlint --install"):
        neo4j_problems([TYPO])


def test_the_lint_runs_from_a_copy_of_the_package_outside_the_repository(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    shutil.copytree(ROOT / "graph", site / "graph", ignore=shutil.ignore_patterns("__pycache__"))
    script = (
        "import graph.cypherlint as c\n"
        "print(c.node_file('lint.mjs'))\n"
        "print(sorted({p.query for p in c.neo4j_problems([c.Query('typo', 'RETRN 1')])}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site), HOME_ENV: str(installed_home(tmp_path))}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [str(site / "graph" / "cypherlint" / "lint.mjs"), "['typo']"]
