"""The data scientists' notebook runs from top to bottom, on each backend (its kernel finds the
store through the environment, as a data scientist's shell would)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from graph.settings import load_settings
from graph.store import open_store

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "graph_risk_model.ipynb"


def test_the_notebook_runs(backend: str, tmp_path: Path, monkeypatch) -> None:
    from store_fixtures import Neo4jOccupant

    Neo4jOccupant.take("notebook_test")
    open_store(load_settings()).clear()
    monkeypatch.setenv("VOUCHGRAPH_GRAPH_NAME", "notebook_test")
    monkeypatch.setenv("VOUCHGRAPH_NOTEBOOK_CUSTOMERS", "1000")
    monkeypatch.setenv("VOUCHGRAPH_NOTEBOOK_EPOCHS", "20")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv(
        "PYTHONPATH", str(NOTEBOOK.parents[1]) + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    try:
        NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(tmp_path)}},
        ).execute()
    finally:
        open_store(load_settings()).clear()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "probability" in text and "gnn" in text and "baseline" in text
