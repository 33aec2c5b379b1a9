"""A job's health as `cflab status`, the lab page and `up` report it (sans-IO).

Each health check is an exec into the job's container, which costs the engine:
~50 ms in runc alone, more inside a Docker-in-Docker node. So:

- Docker does not check at all (`checked_by_cflab`): the Compose check travels in a
  label, and cflab runs it when asked (`up`, `status`, the lab page), at most once a
  minute per job (a pass is remembered for `OWN_CHECK_EVERY_S`).
- On a swarm, Docker's checks would cost more than their run: a swarm adds a task to
  its service's DNS only once its first check passed, and Docker 20.10 has no
  `start_interval`, so checks had to come every 15 s. Measured on a 2-node lab at one
  instance: 11.5% of a core busy with them, 6.2% without.
- On one engine Docker checked each job every 60 s: 13 execs a minute at 4 cells,
  ~1.5% of a core of an idle 100-instance foundation's ~13% by 60 s of `/proc`.
- A container whose Docker check is on (one started before this) is still read from
  Docker once Docker has checked it; until then cflab runs its check itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

CHECK_LABEL = "cflab.healthcheck"   # the Compose check of a job Docker does not check
OWN_CHECK_EVERY_S = 60.0            # as Docker's interval on one engine


def check_of(config: Mapping[str, Any]) -> tuple[list[str], int, str]:
    """A container's (check command, retries, who runs it) from its inspected Config:
    "docker", "cflab" (a swarm task whose check is in `CHECK_LABEL`) or "none"."""
    docker = config.get("Healthcheck") or {}
    test = list(docker.get("Test") or [])
    if test and test[0] != "NONE":
        return test, int(docker.get("Retries") or 3), "docker"
    label = (config.get("Labels") or {}).get(CHECK_LABEL)
    if label:
        own = json.loads(label)
        return list(own["test"]), int(own.get("retries", 3)), "cflab"
    return [], 0, "none"


def check_label(check: Mapping[str, Any]) -> str:
    """`CHECK_LABEL`'s value for a Compose healthcheck."""
    return json.dumps({"test": list(check["test"]), "retries": int(check.get("retries", 3))})


def checked_by_cflab(svc: Mapping[str, Any]) -> dict[str, Any]:
    """A Compose service whose health check Docker does not run: the check moves into
    `CHECK_LABEL` (a new dict; labels as a mapping, as cflab's Compose files write them)."""
    out = dict(svc)
    if (svc.get("healthcheck") or {}).get("test"):
        out["healthcheck"] = {"disable": True}
        out["labels"] = {**(svc.get("labels") or {}),
                         CHECK_LABEL: check_label(svc["healthcheck"])}
    return out


@dataclass
class Remembered:
    """Probe results per container run, keyed (container, StartedAt)."""

    passed: dict[tuple[str, str], float] = field(default_factory=dict)  # -> when
    failures: dict[tuple[str, str], int] = field(default_factory=dict)  # in a row

    def health(self, state: Mapping[str, Any], probe: Callable[[], bool | None],
               now: float) -> str:
        """The job's health: Docker's where Docker has checked it, else its own check's
        (`probe`: True passed, False failed, None could not tell, e.g. timed out)."""
        by, health = state.get("checked_by", "docker"), state["health"]
        if state["state"] != "running" or by == "none" or (by == "docker" and health != "starting"):
            return health
        key = (state["container"], state["started_at"])
        last = self.passed.get(key)
        if last is not None and (by == "docker" or now - last < OWN_CHECK_EVERY_S):
            return "healthy"
        ok = probe()
        if ok:
            self.passed[key] = now
            self.failures.pop(key, None)
            return "healthy"
        if by == "docker" or last is None:
            return "starting"
        if ok is not None:
            self.failures[key] = self.failures.get(key, 0) + 1
        return "unhealthy" if self.failures.get(key, 0) >= state.get("retries", 3) else "healthy"
