"""Reading a job's JSON config file (`bbs.json`, `credhub.json`, ...), shared by the jobs.

Each job's own module says which keys it takes; this only turns a missing,
unreadable or non-object file into that job's ConfigError naming the path.
"""

from __future__ import annotations

import json
from typing import Any


def read_object(path: str, error: type[Exception]) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, ValueError) as e:
        raise error(f"{path}: {e}") from e
    if not isinstance(raw, dict):
        raise error(f"{path}: top level must be an object")
    return raw
