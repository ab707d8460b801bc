"""The `vouchgraph` command line: the composition root that wires graph, etl, ml, risk, notify
and api together (`python -m cli`, or the `vouchgraph` console script)."""
