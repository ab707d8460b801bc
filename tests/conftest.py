"""Fixtures: every store test runs on both backends, the embedded FalkorDB server and a local
Neo4j, each started once per test session through the code paths users run and stopped when the
session ends; a fresh graph per test; small synthetic banks.

FalkorDB holds a graph per test (by name). Neo4j Community has one user database, so a test
there gets it emptied first, and the fixtures that keep a loaded bank across tests (`model_bank`,
`api`) reload it when another test has emptied the database in between (`Neo4jOccupant`).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from store_fixtures import (
    BACKEND_ENV,
    NEO4J_KEYS,
    Neo4jOccupant,
    backend_settings,
    loaded_graph,
)

from graph import embedded, neo4j_local
from graph.settings import Settings, load_settings
from graph.store import GraphStore, open_store

BACKENDS = ("falkordb", "neo4j")
_graph_numbers = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    # a run stopped with SIGTERM (a CI timeout) unwinds like Ctrl-C: fixtures stop their servers
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    config.addinivalue_line(
        "markers", "only_backend(name): run this store test on one backend only (says why)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the parametrised copies a test opted out of with `only_backend`."""
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("only_backend")
        backend = getattr(item, "callspec", None) and item.callspec.params.get("backend")
        if marker is not None and backend and backend not in marker.args:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    for item in items:  # with pytest-xdist's loadgroup: one worker (one server) per backend
        backend = getattr(item, "callspec", None) and item.callspec.params.get("backend")
        if backend:
            item.add_marker(pytest.mark.xdist_group(backend))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Say how many store tests ran and passed on each backend."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") != "call" and outcome == "passed":
                continue
            for backend in BACKENDS:
                if f"[{backend}" in report.nodeid or f"-{backend}]" in report.nodeid:
                    counts.setdefault(backend, {}).setdefault(outcome, 0)
                    counts[backend][outcome] += 1
    if counts:
        terminalreporter.section("store tests per backend")
        for backend in BACKENDS:
            line = ", ".join(f"{n} {k}" for k, n in sorted(counts.get(backend, {}).items()))
            terminalreporter.write_line(f"{backend}: {line or 'none ran'}")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The embedded server's data directory for this test session."""
    path = tmp_path_factory.mktemp("vouchgraph-data")
    config = tmp_path_factory.mktemp("config") / "none.toml"
    config.write_text("[vouchgraph]\n")
    keys = ("VOUCHGRAPH_DATA_DIR", "VOUCHGRAPH_GRAPH_URI", "VOUCHGRAPH_CONFIG", "NEO4J_PASSWORD")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["VOUCHGRAPH_DATA_DIR"] = str(path)
    os.environ["VOUCHGRAPH_CONFIG"] = str(config)
    os.environ.pop("VOUCHGRAPH_GRAPH_URI", None)
    os.environ.pop("NEO4J_PASSWORD", None)
    yield path
    embedded.stop(path)
    _restore(saved)


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _neo4j_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Neo4j directory for this session, its jars linked from the user's cache (resolved
    with Maven once per machine, as `vouchgraph neo4j start` does)."""
    home = tmp_path_factory.mktemp("neo4j")
    cache = neo4j_local.ensure_jars(neo4j_local.default_home())
    os.symlink(cache, neo4j_local.lib_dir(home))
    return home


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[neo4j_local.Neo4jServer]:
    """One local Neo4j for the session. A machine without Java skips the Neo4j tests with the
    reason; CI never does (it fails instead)."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"{' and '.join(missing)} not found: no local Neo4j on this machine")
    home = _neo4j_home(tmp_path_factory)
    server = neo4j_local.ensure_running(home, tied=True)  # never outlives a killed run
    yield server
    neo4j_local.stop(home)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, data_dir: Path) -> str:
    """The store backend of this run of the test (the Neo4j one started for the session)."""
    name: str = request.param
    if name == "neo4j":
        server: neo4j_local.Neo4jServer = request.getfixturevalue("neo4j_server")
        BACKEND_ENV["neo4j"] = {**server.env(), "VOUCHGRAPH_NEO4J_DIR": str(server.home)}
        open_store(backend_settings(name)).ensure_schema()  # constraints survive every clear
        Neo4jOccupant.holder = None
    return name


@pytest.fixture(autouse=True)
def backend_environment(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every command of the project (CLI, subprocesses, notebooks) at this test's
    backend, for this test only: a test without one gets the embedded store."""
    name = request.getfixturevalue("backend") if "backend" in request.fixturenames else "falkordb"
    for key in NEO4J_KEYS:
        monkeypatch.delenv(key, raising=False)
    for key, value in BACKEND_ENV[name].items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def settings(backend: str) -> Settings:
    """Settings naming a graph of this test's own (on Neo4j: the emptied database)."""
    name = f"test_{next(_graph_numbers)}"
    if backend == "neo4j":
        Neo4jOccupant.take(name)
        open_store(load_settings()).clear()
    return dataclasses.replace(load_settings(), graph_name=name)


@pytest.fixture
def store(settings: Settings) -> Iterator[GraphStore]:
    """An empty graph with its schema, deleted after the test."""
    graph = open_store(settings)
    graph.ensure_schema()
    yield graph
    graph.clear()
    graph.close()


@pytest.fixture(scope="session")
def small_bank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,000-customer synthetic bank in the source format."""
    from etl.synth import generate

    out = tmp_path_factory.mktemp("bank")
    generate(1000, 11, out)
    return out


MODEL_BANK_CUSTOMERS = 3000  # enough vouches that end badly to train the pair head


@pytest.fixture(scope="session")
def model_bank_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model bank's source folder (3,000 customers)."""
    from etl.synth import generate

    folder = tmp_path_factory.mktemp("model-bank")
    generate(MODEL_BANK_CUSTOMERS, 5, folder)
    return folder


def _bulk_loader(folder: Path) -> Callable[[GraphStore], None]:
    def load(store: GraphStore) -> None:
        from etl.load import load_folder

        load_folder(store, folder, bulk=True, progress=False)

    return load


@pytest.fixture
def model_bank(backend: str, model_bank_folder: Path) -> GraphStore:
    """The model bank loaded into a graph of its own on this test's backend."""
    return loaded_graph(backend, "model_bank", _bulk_loader(model_bank_folder))


@pytest.fixture(scope="session")
def trained_model(
    data_dir: Path, model_bank_folder: Path, tmp_path_factory: pytest.TempPathFactory
):
    """A model version trained (briefly) on the model bank, in a registry of its own. A
    version is files, usable with either store, so it is trained once, from the embedded
    store."""
    from ml.pipeline import train_store
    from ml.registry import ModelRegistry
    from ml.train import TrainConfig

    settings = dataclasses.replace(load_settings(), graph_uri=None, graph_name="model_training")
    store = open_store(settings)
    store.clear()
    _bulk_loader(model_bank_folder)(store)
    registry = ModelRegistry(tmp_path_factory.mktemp("models"))
    config = TrainConfig(max_epochs=40, hidden=16, eval_every=5, progress=False)
    result = train_store(store, registry, config)
    store.clear()
    return registry, result
