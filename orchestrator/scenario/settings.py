"""The foundation a scenario runs on: CF's defaults, the runner's isolation, the
scenario's `foundation:` overrides, the mode (sans-IO but reading defaults.yml).

The checker builds it for every mode too, so a bad timing or port is reported by
`cflab scenario check` with the config's own message, before anything starts.
"""

from __future__ import annotations

from typing import Any

from orchestrator import config

# Scenario foundations live beside a demo (cflab) and the e2e one (cflab-e2e).
RUNNER_DEFAULTS: dict[str, Any] = {
    "project": "cflab-scn",
    "sample_apps": False,
    "subnets": {"foundation": "10.241.0.0/24", "cell_containers": "10.240.0.0/16"},
}
PORT_OFFSET = 20000   # every published port: its default + 20000 (8080 -> 28080)
# `foundation:` takes every foundation setting but these, which the runner owns.
NOT_IN_SCENARIOS = ("mode", "sample_apps")


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def foundation_settings() -> tuple[str, ...]:
    """The keys a scenario's `foundation:` may set (besides `modes`)."""
    return tuple(k for k in config.defaults() if k not in NOT_IN_SCENARIOS)


def foundation_config(foundation: dict[str, Any], mode: str, project: str | None = None,
                      placement: dict[str, Any] | None = None) -> config.FoundationConfig:
    """The scenario's foundation in `mode`; `placement` (subnets, ports) lets a second
    runner, such as the e2e tests, stay clear of `make scenarios` and its leftovers."""
    ports = {k: v + PORT_OFFSET for k, v in config.defaults()["ports"].items()}
    overrides = merge(merge({**RUNNER_DEFAULTS, "ports": ports}, foundation), placement or {})
    overrides["mode"] = mode
    if project:
        overrides["project"] = project
    return config.load(None, overrides)
