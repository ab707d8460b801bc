"""Parse and validation caches bounded by bytes, keyed by a digest of the document's text.

Strawberry's own caches count entries: a few hundred large documents (each near the token
limit) would hold far more memory than a few hundred kiosk queries. These charge each entry an
estimate of what it holds and evict the least recently used until the total fits.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from graphql import parse
from strawberry.extensions import SchemaExtension

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


class DocumentCache(SchemaExtension):
    """Parses each distinct document text once (pass it as a factory sharing one cache)."""

    def __init__(self, cache: ByteBoundedCache[Any]) -> None:
        self.cache = cache

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.query is not None and ctx.graphql_document is None:
            key = digest(ctx.query)
            document = self.cache.get(key)
            if document is None:
                document = parse(ctx.query, **ctx.parse_options)
                self.cache.put(key, document, AST_BYTES_PER_CHAR * len(ctx.query))
            ctx.graphql_document = document
        yield


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
            if errors is None:
                errors = validate_document(
                    ctx.schema._schema, ctx.graphql_document, ctx.validation_rules
                )
                size = len(ctx.query) + sum(512 + len(e.message) for e in errors)
                self.cache.put(key, errors, size)
            ctx.pre_execution_errors = list(errors)  # a copy: the cached list stays as is
        yield
