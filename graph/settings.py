"""Settings: environment variables first, then an optional TOML config file.

- ``VOUCHGRAPH_GRAPH_URI``: unset (or ``embedded``) means the embedded FalkorDB server;
  ``neo4j://``, ``neo4j+s://``, ``bolt://``, ``bolt+s://`` mean Neo4j 5.
- ``VOUCHGRAPH_DATA_DIR``: where the embedded server keeps its data, password and log.
- ``NEO4J_USER`` / ``NEO4J_PASSWORD`` (and ``NEO4J_DATABASE``): Neo4j credentials.
- ``VOUCHGRAPH_GRAPH_NAME``: the graph (FalkorDB key / Neo4j database default) name.
- ``VOUCHGRAPH_QUERY_TIMEOUT_MS``: default per-query deadline.
- ``VOUCHGRAPH_CONFIG``: path of a TOML file with the same keys in lower case under
  ``[vouchgraph]`` (default ``<user config dir>/vouchgraph/config.toml`` when it exists).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from graph.errors import ConfigError

_KEYS = (
    "graph_uri",
    "data_dir",
    "graph_name",
    "query_timeout_ms",
    "neo4j_user",
    "neo4j_password",
    "neo4j_database",
)


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one process."""

    graph_uri: str | None
    data_dir: Path
    graph_name: str
    query_timeout_ms: int
    neo4j_user: str
    neo4j_password: str | None
    neo4j_database: str | None

    @property
    def embedded(self) -> bool:
        return self.graph_uri is None


def _config_file() -> dict[str, object]:
    explicit = os.environ.get("VOUCHGRAPH_CONFIG")
    path = (
        Path(explicit)
        if explicit
        else Path(platformdirs.user_config_dir("vouchgraph")) / "config.toml"
    )
    if not path.exists():
        if explicit:
            raise ConfigError(f"VOUCHGRAPH_CONFIG: file not found: {path}")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    section = data.get("vouchgraph", {})
    if not isinstance(section, dict):
        raise ConfigError(f"config file {path}: [vouchgraph] must be a table")
    unknown = sorted(set(section) - set(_KEYS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown key(s): {', '.join(unknown)}")
    return section


def load_settings() -> Settings:
    """Read the settings from the environment and the config file (environment wins)."""
    file_values = _config_file()

    def get(key: str, env: str) -> str | None:
        value = os.environ.get(env)
        if value is None or value == "":
            raw = file_values.get(key)
            value = None if raw is None else str(raw)
        return value

    uri = get("graph_uri", "VOUCHGRAPH_GRAPH_URI")
    if uri is not None and uri.strip().lower() in ("", "embedded"):
        uri = None
    if uri is not None and uri.split("://", 1)[0] not in (
        "neo4j",
        "neo4j+s",
        "neo4j+ssc",
        "bolt",
        "bolt+s",
        "bolt+ssc",
    ):
        raise ConfigError(
            "VOUCHGRAPH_GRAPH_URI: expected neo4j://, bolt:// (or unset for the embedded store)"
        )
    data_dir = get("data_dir", "VOUCHGRAPH_DATA_DIR")
    timeout_raw = get("query_timeout_ms", "VOUCHGRAPH_QUERY_TIMEOUT_MS") or "30000"
    try:
        timeout = int(timeout_raw)
        if timeout <= 0:
            raise ValueError
    except ValueError:
        raise ConfigError("VOUCHGRAPH_QUERY_TIMEOUT_MS: expected a positive integer") from None
    return Settings(
        graph_uri=uri,
        data_dir=Path(data_dir).expanduser()
        if data_dir
        else Path(platformdirs.user_data_dir("vouchgraph")) / "falkordb",
        graph_name=get("graph_name", "VOUCHGRAPH_GRAPH_NAME") or "vouchgraph",
        query_timeout_ms=timeout,
        neo4j_user=get("neo4j_user", "NEO4J_USER") or "neo4j",
        neo4j_password=get("neo4j_password", "NEO4J_PASSWORD"),
        neo4j_database=get("neo4j_database", "NEO4J_DATABASE"),
    )
