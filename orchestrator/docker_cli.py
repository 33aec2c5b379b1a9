"""Thin wrappers around the docker and compose command lines.

The orchestrator shells out rather than using the SDK so it needs nothing on
the host but the tools a Docker user already has, and so its commands can be
copied from `--verbose` output and run by hand.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache

from orchestrator.progress import PhaseError

LABEL = "cflab.foundation"


def run(args: Sequence[str], check: bool = True, capture: bool = True,
        env: dict[str, str] | None = None, input: bytes | None = None,
        timeout: float | None = None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(list(args), capture_output=capture, env=env, input=input,
                              timeout=timeout)
    except FileNotFoundError:
        raise PhaseError(f"{args[0]}: command not found") from None
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


def socket_path() -> str:
    """The engine's unix socket on the host, for cells to mount (they play Garden)."""
    proc = run(["docker", "context", "inspect", "-f", "{{.Endpoints.docker.Host}}"], check=False)
    host = proc.stdout.decode().strip()
    return host[len("unix://"):] if host.startswith("unix://") else "/var/run/docker.sock"
