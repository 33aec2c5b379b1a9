"""Thin wrappers around the docker and compose command lines.

The orchestrator shells out rather than using the SDK so it needs nothing on
the host but the tools a Docker user already has, and so its commands can be
copied from `--verbose` output and run by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache

from orchestrator import engines
from orchestrator.progress import PhaseError

LABEL = "cflab.foundation"


def run(args: Sequence[str], check: bool = True, capture: bool = True,
        env: dict[str, str] | None = None, input: bytes | None = None,
        timeout: float | None = None) -> subprocess.CompletedProcess:
    """One command; a `docker` one goes to the swarm node holding its container when
    CFLAB_DOCKER_NODES lists the nodes' engines (see orchestrator.engines)."""
    base = os.environ if env is None else env
    nodes = engines.hosts(base.get(engines.NODES_ENV))

    def call(host: str | None) -> subprocess.CompletedProcess:
        where = env if host is None else {**base, "DOCKER_HOST": host}
        try:
            return subprocess.run(list(args), capture_output=capture, env=where, input=input,
                                  timeout=timeout)
        except FileNotFoundError:
            raise PhaseError(f"{args[0]}: command not found") from None

    proc = engines.dispatch(args, nodes, call) if nodes and capture else call(None)
    if check and proc.returncode != 0:
        err = (proc.stderr or b"").decode(errors="replace").strip() if capture else ""
        raise PhaseError(f"`{' '.join(args[:4])} ...` failed (exit {proc.returncode}): {err[-2000:]}")
    return proc


def require_engine() -> None:
    """Fail with what to do when there is no docker CLI or no engine answering."""
    if shutil.which("docker") is None:
        raise PhaseError(
            "docker is not installed: install Docker (Debian: apt-get install docker.io) and retry"
        )
    proc = run(["docker", "info", "--format", "{{.ServerVersion}}"], check=False)
    if proc.returncode != 0:
        raise PhaseError(
            "the Docker engine is not answering (is dockerd running? try `systemctl start docker`"
            " or `dockerd &`): " + proc.stderr.decode(errors="replace").strip()[-300:]
        )


@cache
def compose_command() -> tuple[str, ...]:
    """`docker compose` (v2) when present, else `docker-compose` (v1)."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ("docker", "compose")
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    raise PhaseError(
        "neither `docker compose` nor `docker-compose` is installed"
        " (Debian: apt-get install docker-compose)"
    )


def image_exists(ref: str) -> bool:
    return run(["docker", "image", "inspect", ref], check=False).returncode == 0


def inspect(kind: str, names: Sequence[str]) -> list[dict]:
    if not names:
        return []
    proc = run(["docker", kind, "inspect", *names], check=False)
    if proc.returncode != 0 and not proc.stdout.strip():
        return []
    return json.loads(proc.stdout or b"[]")


def ids(kind: str, label: str) -> list[str]:
    """Ids of containers, networks or volumes carrying `label` (key=value)."""
    args = {
        "container": ["docker", "ps", "-aq"],
        "network": ["docker", "network", "ls", "-q"],
        "volume": ["docker", "volume", "ls", "-q"],
    }[kind]
    out = run([*args, "--filter", f"label={label}"]).stdout.decode()
    return out.split()


REMOVE_PASSES = 5


def remove_containers(labels: tuple[str, ...]) -> set[str]:
    """Remove every container carrying one of `labels`; their ids. A rep killed while
    it creates an app container leaves one the listing before did not show (bench_scale
    left two, and the networks they held, on 3 Dec 2026), so the listing is taken again
    until it comes back empty (at most REMOVE_PASSES times)."""
    removed: set[str] = set()
    for _ in range(REMOVE_PASSES):
        found = {c for label in labels for c in ids("container", label)}
        if not found:
            break
        run(["docker", "rm", "-f", "-v", *found], check=False)
        removed |= found
    return removed


def network_endpoints(net: dict) -> list[str]:
    """Names of the endpoints an inspected network still lists (live or stale).

    A stale endpoint (its container is gone, Docker 20.10 kept the record) shows up
    under `Containers` keyed `ep-<id>`, with the old container's name.
    """
    return [c.get("Name") or key for key, c in (net.get("Containers") or {}).items()]


def remove_network(net: str) -> bool:
    """`docker network rm`, first force-disconnecting every endpoint the network lists.

    "network has active endpoints" after its containers are removed is a stale
    endpoint; `docker network disconnect -f` is the engine's documented way to drop
    it (no engine restart). True when the network is gone.
    """
    if run(["docker", "network", "rm", net], check=False).returncode == 0:
        return True
    for info in inspect("network", [net]):
        for endpoint in network_endpoints(info):
            run(["docker", "network", "disconnect", "-f", net, endpoint], check=False)
    return run(["docker", "network", "rm", net], check=False).returncode == 0


def networks() -> list[tuple[str, dict[str, str], list[str]]]:
    """Every Docker network as (name, labels, IPv4 subnets)."""
    names = run(["docker", "network", "ls", "--format", "{{.Name}}"]).stdout.decode().split()
    result = []
    for net in inspect("network", names):
        configs = (net.get("IPAM") or {}).get("Config") or []
        subnets = [c["Subnet"] for c in configs if ":" not in c.get("Subnet", ":")]
        result.append((net["Name"], net.get("Labels") or {}, subnets))
    return result


def stats_mib(usage: str) -> float:
    """MiB used of a `docker stats` MemUsage figure ("41.2MiB / 1GiB", any unit it prints)."""
    used = usage.strip().split("/")[0].strip()
    for unit, factor in (("GiB", 1024), ("MiB", 1), ("KiB", 1 / 1024), ("kB", 1 / 1024),
                         ("MB", 1), ("GB", 1024), ("B", 1 / 2**20)):
        if used.endswith(unit):
            return float(used[: -len(unit)]) * factor
    raise ValueError(f"not a docker stats memory figure: {usage!r}")


CELL_SOCKET_ENV = engines.CELL_SOCKET_ENV


def socket_path() -> str:
    """The engine's unix socket on the host, for cells to mount (they play Garden);
    CFLAB_CELL_DOCKER_SOCKET: where every node has it, when cflab reaches the engine
    some other way (`cflab swarm-lab`: a socket the lab's node shares with the host)."""
    if os.environ.get(CELL_SOCKET_ENV):
        return os.environ[CELL_SOCKET_ENV]
    proc = run(["docker", "context", "inspect", "-f", "{{.Endpoints.docker.Host}}"], check=False)
    host = proc.stdout.decode().strip()
    return host[len("unix://"):] if host.startswith("unix://") else "/var/run/docker.sock"
