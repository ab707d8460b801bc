"""Random identifiers of workflow records and one-time tokens."""

from __future__ import annotations

import secrets

ID_BYTES = 10  # random bytes of a workflow id (assessment, request, decision, audit event)
TOKEN_BYTES = 32  # random bytes of a one-time token (256 bits)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(ID_BYTES)}"
