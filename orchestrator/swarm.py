"""The swarm side of a foundation: its nodes' labels, `docker stack deploy` and `rm`.

Only the engine's own CLI, as docker_cli does; nothing here inits or leaves a
swarm (that is the user's, or the swarm e2e test's, decision).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from orchestrator import engines
from orchestrator.docker_cli import LABEL, ids, run
from orchestrator.progress import PhaseError
from orchestrator.stack import STACK_LABEL, cell_label


def local_node() -> tuple[str, bool]:
    """This engine's swarm node id and whether it is a manager; a clear error otherwise."""
    proc = run(["docker", "info", "--format",
                "{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{.Swarm.ControlAvailable}}"])
    state, _, rest = proc.stdout.decode().strip().partition(" ")
    node, _, manager = rest.partition(" ")
    if state != "active" or not node:
        raise PhaseError(f"engine: swarm needs this Docker engine in a swarm (it is {state!r});"
                         " run `docker swarm init` (see README, Swarm) or use engine: compose")
    return node, manager == "true"


def in_swarm() -> bool:
    proc = run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"], check=False)
    return proc.stdout.decode().strip() == "active"


def node_labels() -> dict[str, dict[str, str]]:
    """Node id -> its labels, for every node of the swarm (none seen from a worker)."""
    nodes = run(["docker", "node", "ls", "-q"], check=False).stdout.decode().split()
    if not nodes:
        return {}
    info = json.loads(run(["docker", "node", "inspect", *nodes]).stdout or b"[]")
    return {n["ID"]: (n.get("Spec") or {}).get("Labels") or {} for n in info}


def place_cells(project: str, cells: list[str], node: str) -> dict[str, str]:
    """Cell -> node: a cell no node is labelled for goes on `node` (this one). Label
    other nodes `cflab.<project>.<cell>=true` before `up` to spread the cells."""
    labels = node_labels()
    placed = {}
    for cell in cells:
        key = cell_label(project, cell)
        holder = next((n for n, lab in labels.items() if lab.get(key) == "true"), None)
        if holder is None:
            run(["docker", "node", "update", "--label-add", f"{key}=true", node])
            holder = node
        placed[cell] = holder
    return placed


def unplace_cells(project: str) -> int:
    """Remove every `cflab.<project>.*` label from every node (what place_cells added
    and what a user added for this project)."""
    removed = 0
    prefix = f"cflab.{project}."
    for node, labels in node_labels().items():
        keys = [k for k in labels if k.startswith(prefix)]
        if keys:
            args = [a for k in keys for a in ("--label-rm", k)]
            run(["docker", "node", "update", *args, node], check=False)
            removed += len(keys)
    return removed


def deploy(stack_path: Path, project: str, prune: bool = False) -> None:
    """`docker stack deploy`; `prune` removes services the file no longer has (as
    `compose up --remove-orphans`), so never with a partial file."""
    run(["docker", "stack", "deploy", *(["--prune"] if prune else []), "-c", str(stack_path),
         project], timeout=300)


def services(project: str) -> list[str]:
    """The stack's service names, without the `<project>_` prefix."""
    if not in_swarm():
        return []
    out = run(["docker", "service", "ls", "--filter", f"label={STACK_LABEL}={project}",
               "--format", "{{.Name}}"], check=False).stdout.decode().split()
    return [s.removeprefix(f"{project}_") for s in out]


def force_update(project: str, jobs: list[str]) -> None:
    """New tasks for `jobs` (re-read bind-mounted configs), as `compose up --force-recreate`.
    `--detach`: the caller waits for health itself, for all of them at once."""
    for job in jobs:
        run(["docker", "service", "update", "--force", "--detach", f"{project}_{job}"],
            timeout=120)


def remove(project: str, timeout: float = 90.0) -> bool:
    """`docker stack rm`, then wait until its task containers are gone (networks and
    volumes are freed only then). True when there was a stack."""
    if not services(project):
        return False
    run(["docker", "stack", "rm", project], check=False, timeout=120)
    deadline = time.monotonic() + timeout
    while ids("container", f"{STACK_LABEL}={project}"):
        if time.monotonic() > deadline:
            raise PhaseError(f"stack {project!r}: task containers still there after"
                             f" {timeout:.0f}s")
        time.sleep(0.5)
    return True


def node_engines() -> dict[str, str]:
    """Swarm node id -> its engine's DOCKER_HOST, for the engines CFLAB_DOCKER_NODES lists
    (none without it: cflab reaches only this engine)."""
    found = {}
    alone = engines.one_engine_env(os.environ)
    for host in engines.hosts(os.environ.get(engines.NODES_ENV)):
        proc = run(["docker", "info", "--format", "{{.Swarm.NodeID}}"],
                   env={**alone, "DOCKER_HOST": host})
        found[proc.stdout.decode().strip()] = host
    return found


def copy_volumes(project: str, volumes: list[str], manager: str, nodes: set[str],
                 image: str) -> int:
    """Copy the stack's local `volumes` (filled on the manager, e.g. by the PKI step) to
    each other node in `nodes`, as tar streams through throwaway `image` containers:
    modes and owners kept (keys stay 0600). A swarm has no shared local volumes, so a
    cell on another node would otherwise mount empty secrets. Returns the copies made."""
    others = sorted(nodes - {manager})
    if not others:
        return 0
    reach = node_engines()
    alone = engines.one_engine_env(os.environ)
    missing = [n for n in [manager, *others] if n not in reach]
    if missing:
        raise PhaseError(f"cells are placed on swarm node(s) {', '.join(missing)} whose engine"
                         f" cflab cannot reach: list every node's DOCKER_HOST in"
                         f" {engines.NODES_ENV} (the manager first), as `cflab swarm-lab` does")
    copies = 0
    for volume in volumes:
        name = f"{project}_{volume}"
        data = run(["docker", "run", "--rm", "--label", f"{LABEL}={project}", "-v",
                    f"{name}:/v:ro", image, "tar", "-C", "/v", "-cpf", "-", "."],
                   env={**alone, "DOCKER_HOST": reach[manager]}, timeout=60).stdout
        for node in others:
            env = {**alone, "DOCKER_HOST": reach[node]}
            run(["docker", "volume", "create", "--label", f"{LABEL}={project}", "--label",
                 f"{STACK_LABEL}={project}", name], env=env)
            run(["docker", "run", "--rm", "-i", "--label", f"{LABEL}={project}", "-v",
                 f"{name}:/v", image, "sh", "-c",
                 "find /v -mindepth 1 -delete && tar -C /v -xpf - --numeric-owner"],
                env=env, input=data, timeout=60)
            copies += 1
    return copies
