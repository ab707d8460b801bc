"""Parse and validation caches bounded by bytes, keyed by a digest of the document's text.

Strawberry's own caches count entries: a few hundred large documents (each near the token
limit) would hold far more memory than a few hundred kiosk queries. These charge each entry an
estimate of what it holds and evict the least recently used until the total fits.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from graphql import GraphQLError, GraphQLSchema, parse, specified_rules
from strawberry.extensions import SchemaExtension

from api.limits import limit_errors
from api.prepared import PREPARED, Prepared

V = TypeVar("V")

# A parsed document holds about 70-300 bytes per character of its text (measured with
# tracemalloc: plain field lists near 70, densely nested aliased fields near 300).
AST_BYTES_PER_CHAR = 300
ENTRY_OVERHEAD = 256  # the digest, the tuple, the dictionary slot


def digest(text: str) -> bytes:
    """The cache key of a document's text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class ByteBoundedCache(Generic[V]):
    """A thread-safe LRU whose entries' declared sizes never sum past `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[bytes, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> V | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            self._entries.move_to_end(key)
            return hit[0]

    def put(self, key: bytes, value: V, size: int) -> None:
        size += ENTRY_OVERHEAD
        if size > self.max_bytes:
            return  # never worth evicting everything else for
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._entries[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _key, (_value, evicted) = self._entries.popitem(last=False)
                self.bytes -= evicted


RULES = tuple(specified_rules)


def prepare(
    schema: GraphQLSchema,
    query: str,
    variables: Mapping[str, Any] | None,
    parsed: ByteBoundedCache[Any],
    validated: ByteBoundedCache[Any],
    max_tokens: int,
) -> Prepared:
    """Parse (or take from the cache), measure against the limits, then validate: what the
    extensions below would do on the event loop, done wherever this is called."""
    from strawberry.schema.schema import validate_document  # a cycle at import time

    key = digest(query)
    document = parsed.get(key)
    if document is None:
        try:
            document = parse(query, max_tokens=max_tokens)
        except GraphQLError:
            return Prepared(query, variables, None, (), RULES)  # Strawberry reports it
    errors = limit_errors(document, variables)
    if not errors:
        cached: list[GraphQLError] | None = validated.get(key)
        errors = validate_document(schema, document, RULES) if cached is None else cached
    return Prepared(query, variables, document, tuple(errors), RULES)


def _prepared(ctx: Any) -> Prepared | None:
    prepared = PREPARED.get()
    if prepared is None or prepared.document is None:
        return None
    return prepared if prepared.matches(ctx.query, ctx.variables) else None


class DocumentCache(SchemaExtension):
    """Parses each distinct document text once (pass it as a factory sharing one cache).

    Only documents that pass validation are kept: a stream of distinct hostile documents would
    otherwise fill the cache with syntax trees whose tokens (a doubly linked list, so cyclic)
    every full pass of the garbage collector must walk, stalling the event loop.
    """

    def __init__(self, cache: ByteBoundedCache[Any]) -> None:
        self.cache = cache
        self._fresh: tuple[bytes, Any] | None = None

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.query is not None and ctx.graphql_document is None:
            key = digest(ctx.query)
            document = self.cache.get(key)
            if document is None:
                prepared = _prepared(ctx)
                document = (
                    prepared.document
                    if prepared is not None
                    else parse(ctx.query, **ctx.parse_options)
                )
                self._fresh = (key, document)
            ctx.graphql_document = document
        yield

    def on_validate(self) -> Iterator[None]:
        yield
        ctx = self.execution_context
        if self._fresh is not None and not ctx.pre_execution_errors and ctx.query is not None:
            key, document = self._fresh
            self.cache.put(key, document, AST_BYTES_PER_CHAR * len(ctx.query))
        self._fresh = None


class ValidationResultCache(SchemaExtension):
    """Validates each distinct document text once with the standard rules (after QueryLimits,
    which depends on the variables and so runs on every request)."""

    def __init__(self, cache: ByteBoundedCache[Any]) -> None:
        self.cache = cache

    def on_validate(self) -> Iterator[None]:
        from strawberry.schema.schema import validate_document  # a cycle at import time

        ctx = self.execution_context
        if ctx.pre_execution_errors is None and ctx.graphql_document is not None and ctx.query:
            key = digest(ctx.query)
            errors = self.cache.get(key)
            prepared = _prepared(ctx)
            if errors is None and prepared is not None and prepared.rules == ctx.validation_rules:
                errors = list(prepared.errors)
                if not errors:
                    self.cache.put(key, errors, len(ctx.query))
            if errors is None:
                errors = validate_document(
                    ctx.schema._schema, ctx.graphql_document, ctx.validation_rules
                )
                if not errors:  # an error holds its document: invalid ones are not kept
                    self.cache.put(key, errors, len(ctx.query))
            ctx.pre_execution_errors = list(errors)  # a copy: the cached list stays as is
        yield
