"""The foundation as one Compose v3 stack file for `docker stack deploy` (sans-IO).

It is made from the same compose/foundation.yml and the same per-cell services
`cflab up` gives Compose, so both engines run the same jobs with the same configs.
Swarm ignores or refuses some Compose keys; each is replaced here, and README
("Swarm") says what that changes:

- `depends_on` is ignored: `cflab up` deploys the PKI step alone first and waits
  for it to finish; the jobs already retry what they need (NATS, the BBS).
- `restart: "no"` becomes `restart_policy: none`, so a fault a scenario injects (a
  killed job) stays injected until the scenario restarts it.
- `network_mode: none` (the PKI step) is not a swarm option: it joins the foundation
  network, where it listens on nothing.
- `ports` become `mode: host` publishing (see `published`).
- services resolve to their tasks' own addresses (`endpoint_mode: dnsrr`), as Compose
  names do: no virtual IP in between, and a cell's own address is what it reports.
- every network is an attachable overlay: the cells' reps create app containers on
  their cell's network through their node's engine, outside the stack.
- placement: the jobs run on the node `cflab up` runs on (their configs are bind
  mounts and their secrets local volumes there); each cell runs on the node carrying
  its label `cflab.<project>.<cell>=true` (`cell_label`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from orchestrator import job_health

STACK_VERSION = "3.8"
SERVICE_LABEL = "com.docker.swarm.service.name"   # set by swarm on every task container
STACK_LABEL = "com.docker.stack.namespace"        # set by `docker stack deploy`
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


class StackError(ValueError):
    """The Compose file uses something the stack conversion does not handle."""


def substitute(text: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}` and `${NAME:-default}` interpolation (the forms foundation.yml
    uses); `docker stack deploy` would read them from the caller's environment."""
    def value(m: re.Match[str]) -> str:
        if m.group(1) in env:
            return env[m.group(1)]
        if m.group(2) is not None:
            return m.group(2)
        raise StackError(f"${{{m.group(1)}}} is not set")
    return _VARIABLE.sub(value, text)


def cell_label(project: str, cell: str) -> str:
    """The node label that places `cell` of `project` (`cflab.<project>.<cell>`)."""
    return f"cflab.{project}.{cell}"


def published(ports: list[str]) -> list[dict[str, Any]]:
    """Compose's "127.0.0.1:HOST:CONTAINER" as swarm's long syntax in `mode: host`.

    Swarm has no host IP in a port: ingress publishing would listen on every interface
    of every node and route through the mesh. `mode: host` listens only on the node
    running the task (ours: the jobs are pinned to it), still on all its interfaces.
    """
    out = []
    for spec in ports:
        parts = spec.split(":")
        if len(parts) != 3:
            raise StackError(f"port {spec!r}: expected HOST_IP:HOST_PORT:CONTAINER_PORT")
        out.append({"target": int(parts[2]), "published": int(parts[1]), "protocol": "tcp",
                    "mode": "host"})
    return out


def service(name: str, svc: dict[str, Any], project: str, constraint: str) -> dict[str, Any]:
    """One Compose service as a swarm service (see the module docstring)."""
    out = {k: v for k, v in svc.items()
           if k not in ("restart", "depends_on", "ports", "network_mode")}
    if "container_name" in svc:
        raise StackError(f"{name}: container_name has no swarm equivalent")
    if svc.get("network_mode") not in (None, "none"):
        raise StackError(f"{name}: network_mode {svc['network_mode']!r} has no swarm equivalent")
    if "networks" not in out:
        out["networks"] = ["foundation"]
    if svc.get("ports"):
        out["ports"] = published(svc["ports"])
    out = job_health.checked_by_cflab(out)
    labels = dict(out.get("labels") or {})
    labels.setdefault("cflab.foundation", project)
    out["labels"] = labels                      # the task containers' labels
    out["deploy"] = {
        "endpoint_mode": "dnsrr",
        "replicas": 1,
        "restart_policy": {"condition": "none"},
        "labels": dict(labels),                 # the service's own labels
        "placement": {"constraints": [constraint]},
    }
    return out


def stack_file(compose_text: str, env: dict[str, str], cells: dict[str, Any], project: str,
               node_id: str, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """The stack: compose/foundation.yml (its text, `env` substituted) plus `cells` (the
    per-cell services and networks render.cells_compose makes). `only`: just those
    services (the PKI step first), with every network and volume."""
    base = yaml.safe_load(substitute(compose_text, env))
    services = {**base["services"], **cells["services"]}
    networks = {**base.get("networks", {}), **cells["networks"]}
    out_services = {}
    for name, svc in services.items():
        if only and name not in only:
            continue
        constraint = (f"node.labels.{cell_label(project, name)} == true"
                      if name in cells["services"] else f"node.id == {node_id}")
        out_services[name] = service(name, svc, project, constraint)
    out_networks = {}
    for name, net in networks.items():
        labels = dict(net.get("labels") or {})
        labels.setdefault("cflab.foundation", project)
        out_networks[name] = {"driver": "overlay", "attachable": True,
                              "ipam": net["ipam"], "labels": labels}
    return {"version": STACK_VERSION, "services": out_services, "networks": out_networks,
            "volumes": base.get("volumes", {})}


def write(path: Path, stack: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# generated by cflab from compose/foundation.yml and the foundation"
                    " config; do not edit\n" + yaml.safe_dump(stack, sort_keys=False))
    return path
