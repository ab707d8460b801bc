"""The graph model as a flow sees it: a scorer of customers and pairs, and how its reads are
recorded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

# Recorded among an audit event's categories when the graph model read the neighbourhood.
GRAPH_MODEL_READ = "graph_model"
NO_MODEL = "NO_MODEL_PROMOTED"  # why there is no graph risk when no scorer is given


class GraphRiskResult(Protocol):
    @property
    def probability(self) -> float: ...

    @property
    def model_version(self) -> str: ...

    @property
    def evidence(self) -> Mapping[str, Any]: ...


class GraphRiskScorer(Protocol):
    """The graph model in the request path (`ml.serving.OnlineScorer`)."""

    @property
    def version(self) -> str: ...

    def score_customer(self, customer_id: str, now: int) -> GraphRiskResult: ...

    def score_pair(self, customer_id: str, guarantor_id: str, now: int) -> GraphRiskResult: ...
