"""API keys: created once and shown once; the store keeps only a hash, mapped to a role."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from graph import queries as q
from graph.store import GraphStore
from graph.vocab import Role, names

ROLES = names(Role)
PREFIX = "vg_"
# What create_key makes: the prefix and 32 random bytes, base64url without padding.
KEY_FORMAT = re.compile(r"vg_[A-Za-z0-9_-]{43}")


class InvalidRole(ValueError):
    """A role that is not one of ROLES."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its name and its role."""

    key_id: str
    name: str
    role: str


def well_formed(key: str) -> bool:
    """Whether `key` has the shape of a key create_key makes (checked before any lookup)."""
    return KEY_FORMAT.fullmatch(key) is not None


def key_hash(key: str) -> str:
    """The stored form of a key (keys are 256-bit random, so a plain SHA-256 suffices)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(store: GraphStore, role: str, name: str) -> tuple[Principal, str]:
    """Make a key for `role`; returns it in clear once (it is never stored in clear)."""
    if role not in ROLES:
        raise InvalidRole(f"--role: must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise InvalidRole("--name: must not be empty")
    key = PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(6)
    store.run(
        q.CREATE_API_KEY,
        {
            "id": key_id,
            "name": name.strip(),
            "role": role,
            "hash": key_hash(key),
            "now": int(time.time() * 1000),
        },
    )
    return Principal(key_id, name.strip(), role), key


def list_keys(store: GraphStore) -> list[dict[str, Any]]:
    """Every key's id, name, role, creation time and whether it is revoked (never its hash)."""
    return [dict(row) for row in store.run(q.LIST_API_KEYS)]


def revoke_key(store: GraphStore, key_id: str) -> bool:
    """Revoke a key by id (it stops working within a KeyRing's ttl); False when no such key."""
    rows = store.run(q.REVOKE_API_KEY, {"id": key_id, "now": int(time.time() * 1000)})
    return bool(rows)


class KeyRing:
    """Looks keys up in the store, remembering answers (misses too) for a few seconds in a
    bounded LRU: a revoked key stops working within `ttl_s`, and random keys cannot grow the
    cache. A store failure during a lookup raises StoreError (the caller answers 503)."""

    def __init__(self, store: GraphStore, ttl_s: float = 10.0, max_entries: int = 10_000) -> None:
        self.store, self.ttl_s, self.max_entries = store, ttl_s, max_entries
        self._cache: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[float, Principal | None] | None:
        """(age in seconds, principal or None) of what is remembered about `key`, or None."""
        digest = key_hash(key)
        with self._lock:
            hit = self._cache.get(digest)
        return None if hit is None else (time.monotonic() - hit[0], hit[1])

    def principal(self, key: str) -> Principal | None:
        """The principal of a presented key, or None when it is malformed, unknown or revoked."""
        if not well_formed(key):
            return None
        digest = key_hash(key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
            if hit is not None and now - hit[0] < self.ttl_s:
                self._cache.move_to_end(digest)
                return hit[1]
        rows = self.store.run(q.API_KEY_BY_HASH, {"hash": digest})
        found = Principal(rows[0]["id"], rows[0]["name"], rows[0]["role"]) if rows else None
        with self._lock:
            self._cache[digest] = (now, found)
            self._cache.move_to_end(digest)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)
        return found
