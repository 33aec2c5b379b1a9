"""Fault primitives, acting from outside the target where possible.

A partition is a short-lived helper container in the target's network namespace
(``--network container:<target>``, NET_ADMIN) that adds iptables DROP rules for the
peer's address: the jobs themselves need no privileges and keep their own rules.
Job faults (kill, pause, stop, restart) are plain ``docker`` verbs.
"""

from __future__ import annotations

import json
import shlex

from orchestrator.docker_cli import LABEL, run
from orchestrator.progress import PhaseError
from orchestrator.stack import SERVICE_LABEL as SWARM_SERVICE

HELPER_IMAGE = "cflab/base:latest"
ROUTE_EMITTER_CMD = ("python3 -m foundry.route_emitter -c "
                     "/var/vcap/jobs/route_emitter/config/route_emitter.json")


def container_ips(container: str) -> list[str]:
    """Every IPv4 address of a container (a cell has two networks)."""
    out = run(["docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", container])
    nets = json.loads(out.stdout or b"{}") or {}
    return [n["IPAddress"] for n in nets.values() if n.get("IPAddress")]


def foundation_ip(container: str, project: str) -> str:
    out = run(["docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", container])
    nets = json.loads(out.stdout or b"{}") or {}
    net = nets.get(f"{project}_foundation") or next(iter(nets.values()), {})
    return net.get("IPAddress", "")


def helper(project: str, target: str, script: str) -> str:
    """Run `script` in a throwaway container sharing `target`'s network namespace."""
    proc = run(["docker", "run", "--rm", "--network", f"container:{target}",
                "--cap-add", "NET_ADMIN", "--label", f"{LABEL}={project}",
                "--entrypoint", "sh", HELPER_IMAGE, "-c", script], timeout=60)
    return proc.stdout.decode(errors="replace")


def _rules(peer_ips: list[str], flag: str) -> str:
    lines = []
    for ip in peer_ips:
        for chain, match in (("INPUT", "-s"), ("OUTPUT", "-d"), ("FORWARD", "-s"),
                             ("FORWARD", "-d")):
            rule = f"{chain} {match} {ip} -m comment --comment cflab-partition -j DROP"
            if flag == "-I":
                lines.append(f"iptables -C {rule} 2>/dev/null || iptables -I {rule}")
            else:
                lines.append(f"while iptables -D {rule} 2>/dev/null; do :; done")
    return "; ".join(lines) or "true"


def partition(project: str, a: str, b: str) -> list[str]:
    """Drop all traffic between containers a and b, in a's namespace (both ways).

    FORWARD too: traffic a cell DNATs to its app containers is forwarded, not input.
    """
    peers = container_ips(b)
    helper(project, a, _rules(peers, "-I"))
    return peers


def heal(project: str, a: str, b: str) -> None:
    helper(project, a, _rules(container_ips(b), "-D"))


def job(verb: str, container: str) -> None:
    """docker kill | stop | start | restart | pause | unpause.

    A swarm task's container cannot be started again (its network attachment went
    with its task): there start and restart are `docker service update --force`, a
    new task of the job's service (it waits until the task runs)."""
    if verb in ("start", "restart"):
        service = run(["docker", "inspect", "-f", f'{{{{index .Config.Labels "{SWARM_SERVICE}"}}}}',
                       container], check=False).stdout.decode().strip()
        if service and service != "<no value>":
            run(["docker", "service", "update", "--force", "--detach=false", service],
                timeout=180)
            return
    args = ["docker", verb]
    if verb == "stop":
        args += ["-t", "2"]
    run([*args, container], timeout=120)


def stop_route_emitter(cell_container: str) -> None:
    run(["docker", "exec", cell_container, "pkill", "-f", "foundry.route_emitter"], check=False)
    proc = run(["docker", "exec", cell_container, "pgrep", "-f", "foundry.route_emitter"],
               check=False)
    if proc.returncode == 0:
        run(["docker", "exec", cell_container, "pkill", "-9", "-f", "foundry.route_emitter"],
            check=False)


def start_route_emitter(cell_container: str) -> None:
    run(["docker", "exec", "-d", cell_container, "sh", "-c", ROUTE_EMITTER_CMD])


def crash_instance(instance_guid: str) -> str:
    """Kill the app process inside its container (the container is named by its guid).

    Falls back to killing the container when the process is not found, so the
    instance crashes either way; returns how it was done.
    """
    proc = run(["docker", "exec", instance_guid, "sh", "-c",
                "pkill -9 -f " + shlex.quote("app.py")], check=False)
    if proc.returncode == 0:
        return "pkill -9 app.py"
    killed = run(["docker", "kill", instance_guid], check=False)
    if killed.returncode != 0:
        raise PhaseError(f"cannot crash instance {instance_guid}: "
                         f"{killed.stderr.decode(errors='replace').strip()}")
    return "docker kill"
