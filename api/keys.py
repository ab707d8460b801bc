"""API keys: created once and shown once; the store keeps only a hash, mapped to a role."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from graph import queries as q
from graph.store import GraphStore

ROLES = ("kiosk", "analyst", "admin")
PREFIX = "vg_"


class InvalidRole(ValueError):
    """A role that is not one of ROLES."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its name and its role."""

    key_id: str
    name: str
    role: str


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


class KeyRing:
    """Looks keys up in the store, remembering answers for a few seconds (a revoked key stops
    working within `ttl_s`)."""

    def __init__(self, store: GraphStore, ttl_s: float = 10.0) -> None:
        self.store, self.ttl_s = store, ttl_s
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def principal(self, key: str) -> Principal | None:
        """The principal of a presented key, or None when it is unknown or revoked."""
        if not key.startswith(PREFIX):
            return None
        digest = key_hash(key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        rows = self.store.run(q.API_KEY_BY_HASH, {"hash": digest})
        found = Principal(rows[0]["id"], rows[0]["name"], rows[0]["role"]) if rows else None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, found)
        return found
