"""One side-by-side table of every scenario's last results (what the README shows).

Reads the `result.json` files `cflab scenario run --out DIR` wrote; sans-IO apart
from the reading, so the layout is tested on plain dicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MODES = ("before-envoy", "after-envoy", "strict")


def cell(mode: dict[str, Any] | None) -> str:
    """`✓ 285/360 misrouted, 42 errors` for one scenario in one mode; `–` when not run."""
    if not mode:
        return "–"
    c = mode.get("counts") or {}
    mark = {"passed": "✓", "failed": "✗"}.get(mode.get("status", ""), mode.get("status", "?"))
    text = f"{mark} {c.get('misrouted', 0)}/{c.get('requests', 0)} misrouted, {c.get('errors', 0)} errors"
    checks = mode.get("checks") or {}
    if checks:
        text += "; " + ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in checks.items())
    return text


def table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown: a row per scenario, a column per mode."""
    lines = ["| scenario | " + " | ".join(MODES) + " |", "|---" * (len(MODES) + 1) + "|"]
    for name in sorted(results):
        modes = results[name].get("modes") or {}
        lines.append(f"| {name} | " + " | ".join(cell(modes.get(m)) for m in MODES) + " |")
    return "\n".join(lines)


def load(out: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(out.glob("*/result.json")):
        try:
            found[path.parent.name] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable result.json ({exc})") from None
    return found
