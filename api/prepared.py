"""A document prepared off the event loop: parsed, measured and validated in a worker thread,
handed to the extensions of the request it belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError


@dataclass(frozen=True)
class Prepared:
    """A document parsed, measured and validated in a worker thread before Strawberry runs
    it, so that none of that work holds the event loop (and /healthz) up. `errors` are the
    limits' refusals or the standard rules' findings; `document` None: it did not parse."""

    query: str
    variables: Mapping[str, Any] | None
    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]
    rules: tuple[Any, ...]

    def matches(self, query: str | None, variables: Mapping[str, Any] | None) -> bool:
        return query is self.query and variables is self.variables


# What the worker thread prepared for the request this task is running (set by the HTTP app).
PREPARED: ContextVar[Prepared | None] = ContextVar("prepared_document", default=None)
