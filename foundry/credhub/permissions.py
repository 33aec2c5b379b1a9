"""CredHub's permission model (v2, path-based ACLs), as pure functions.

A grant is ``{"path", "actor", "operations"}``; a path is a credential name or a
prefix ending in ``/*``. The creator of a credential is granted every operation when
it first writes it; anyone else needs a grant. ``read`` is checked on every read,
interpolation included.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

OPERATIONS = ("read", "write", "delete", "read_acl", "write_acl")


def path_matches(grant_path: str, name: str) -> bool:
    if grant_path.endswith("/*"):
        return name.startswith(grant_path[:-1])
    if grant_path == "*":  # CredHub allows "/*"; a bare "*" is treated the same
        return True
    return grant_path == name


def allowed(grants: Iterable[dict[str, Any]], actor: str, name: str, operation: str) -> bool:
    return any(g["actor"] == actor and operation in g["operations"]
               and path_matches(g["path"], name) for g in grants)


def validate_operations(ops: Any) -> list[str] | None:
    """The operations list if valid (non-empty, known, de-duplicated), else None."""
    if not isinstance(ops, list) or not ops or not all(isinstance(o, str) for o in ops):
        return None
    if any(o not in OPERATIONS for o in ops):
        return None
    return [o for o in OPERATIONS if o in ops]


def valid_path(path: Any) -> bool:
    return isinstance(path, str) and path.startswith("/") and len(path) < 1024 \
        and "*" not in path[:-1] and "//" not in path
