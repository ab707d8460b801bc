"""How the commands print a result as JSON, shared by every command module."""

from __future__ import annotations

import json
from typing import Any


def print_json(data: Any) -> None:
    """Prints `data` as indented JSON with sorted keys; dates and paths as their strings."""
    print(json.dumps(data, indent=2, sort_keys=True, default=str))
