"""The errors the graph store raises; each maps to one API error code and one CLI exit code."""

from __future__ import annotations


class StoreError(Exception):
    """A graph-store operation failed (a query error, a constraint violation, ...)."""

    code = "STORE_ERROR"
    exit_code = 3


class StoreUnavailable(StoreError):
    """The store cannot be reached: not running, refused, or the connection dropped."""

    code = "SERVICE_UNAVAILABLE"
    exit_code = 4


class StoreTimeout(StoreError):
    """A query ran past its deadline."""

    code = "STORE_TIMEOUT"
    exit_code = 4


class ConfigError(Exception):
    """A setting is missing or malformed (names the setting, never a secret)."""

    code = "CONFIG_ERROR"
    exit_code = 2
