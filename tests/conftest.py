"""Fixtures: one embedded graph server for the session (the same code path users run), a fresh
graph per test, and small synthetic banks. The server is stopped when the session ends."""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph import embedded
from graph.settings import Settings, load_settings
from graph.store import GraphStore, open_store

_graph_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The embedded server's data directory for this test session."""
    path = tmp_path_factory.mktemp("vouchgraph-data")
    config = tmp_path_factory.mktemp("config") / "none.toml"
    config.write_text("[vouchgraph]\n")
    saved = {
        k: os.environ.get(k)
        for k in ("VOUCHGRAPH_DATA_DIR", "VOUCHGRAPH_GRAPH_URI", "VOUCHGRAPH_CONFIG")
    }
    os.environ["VOUCHGRAPH_DATA_DIR"] = str(path)
    os.environ["VOUCHGRAPH_CONFIG"] = str(config)
    os.environ.pop("VOUCHGRAPH_GRAPH_URI", None)
    yield path
    embedded.stop(path)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """Settings naming a graph of this test's own on the session's server."""
    return dataclasses.replace(load_settings(), graph_name=f"test_{next(_graph_numbers)}")


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
def model_bank(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphStore]:
    """A 3,000-customer synthetic bank loaded into a graph of its own (for the model tests)."""
    from etl.load import load_folder
    from etl.synth import generate

    folder = tmp_path_factory.mktemp("model-bank")
    generate(MODEL_BANK_CUSTOMERS, 5, folder)
    store = open_store(dataclasses.replace(load_settings(), graph_name="model_bank"))
    store.clear()
    load_folder(store, folder, bulk=True, progress=False)
    yield store
    store.clear()
    store.close()


@pytest.fixture(scope="session")
def trained_model(model_bank: GraphStore, tmp_path_factory: pytest.TempPathFactory):
    """A model version trained (briefly) on the model bank, in a registry of its own."""
    from ml.pipeline import train_store
    from ml.registry import ModelRegistry
    from ml.train import TrainConfig

    registry = ModelRegistry(tmp_path_factory.mktemp("models"))
    config = TrainConfig(max_epochs=40, hidden=16, eval_every=5, progress=False)
    result = train_store(model_bank, registry, config)
    return registry, result
