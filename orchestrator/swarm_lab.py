"""`cflab swarm-lab`: a swarm of Docker-in-Docker nodes on this machine, a foundation
with one cell per node, a scenario across them, and a complete teardown.

The lab's swarm lives only inside its nodes (`cflab/node` containers, base + Debian's
docker.io, with every capability this engine has), so this engine is never put in or
out of a swarm. Node 1 is the manager, the others workers; each node's engine answers
on a unix socket in a host folder (no TCP API), its /var/lib/docker is a volume
(overlay2 there), and cflab's state folder is mounted at the same path in every node so the stack's bind mounts
resolve. Node 1 publishes the foundation's ports on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import requests

from foundry import httpclient
from orchestrator import config, engines, images, render, waiting
from orchestrator.docker_cli import CELL_SOCKET_ENV, LABEL, run, stats_mib
from orchestrator.progress import PhaseError, info, phase

PROJECT = "cflab-lab"
SCENARIO_PROJECT = "cflab-lab-scn"
MAX_NODES = 8
# 10.217-10.222: no foundation, scenario or test of cflab uses them (they use 10.212-16
# and 10.228-10.255); the swarm's own networks (ingress) come from ADDR_POOL.
LAB_SUBNET = IPv4Network("10.217.0.0/24")
ADDR_POOL = "10.218.0.0/16"
SUBNETS = {"foundation": "10.219.0.0/24", "cell_containers": "10.220.0.0/16"}
SCENARIO_SUBNETS = {"foundation": "10.221.0.0/24", "cell_containers": "10.222.0.0/16"}
# default + 19000 (router 127.0.0.1:27080): clear of make up (+0), make scenarios (+20000)
# and the e2e tests' (29xxx-31xxx), and below the ephemeral ports (32768-), which any
# client's connect() may hold when node 1 publishes them.
PORT_OFFSET = 19000
NODE_IMAGES = ("base", "nats", "platform", "stack")   # what runs inside the nodes
CELL_SOCKET = "/var/run/docker.sock"                  # each node's engine, in the node


# Linux capabilities by number (capability.h), for the ones the engine cannot grant.
CAPS = ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
        "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
        "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
        "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
        "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
        "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE")


def missing_caps(status: str) -> list[str]:
    """The capabilities a `/proc/<pid>/status` bounding set (CapBnd) lacks."""
    line = next((ln for ln in status.splitlines() if ln.startswith("CapBnd:")), "")
    if not line:
        return []
    bound = int(line.split()[1], 16)
    return [name for bit, name in enumerate(CAPS) if not bound >> bit & 1]


def node_security(status: str) -> list[str]:
    """A node's privileges: what --privileged gives a Docker-in-Docker engine, less the
    capabilities this engine's bounding set lacks. --privileged asks runc for every
    capability the kernel knows, and fails ("unable to apply caps") where the engine runs
    inside a container without some (here CAP_SYS_RESOURCE)."""
    drops = [a for cap in missing_caps(status) for a in ("--cap-drop", cap)]
    return ["--cap-add", "ALL", *drops, "--security-opt", "seccomp=unconfined",
            "--security-opt", "apparmor=unconfined", "--security-opt", "systempaths=unconfined"]


class LabError(PhaseError):
    """Bad input to the lab (e.g. --nodes 0)."""


@dataclass(frozen=True)
class LabPlan:
    """What the lab creates (sans-IO): names, labels, addresses and ports."""

    nodes: int
    project: str = PROJECT

    def __post_init__(self) -> None:
        if not 1 <= self.nodes <= MAX_NODES:
            raise LabError(f"--nodes {self.nodes}: a lab has 1 to {MAX_NODES} nodes (one cell"
                           " on each; 2 or more for traffic across nodes)")

    @property
    def names(self) -> list[str]:
        return [f"{self.project}-node-{i}" for i in range(1, self.nodes + 1)]

    @property
    def network(self) -> str:
        return f"{self.project}-net"

    def volume(self, node: str) -> str:
        return f"{node}-docker"

    @property
    def ports(self) -> dict[str, int]:
        return {k: v + PORT_OFFSET for k, v in config.defaults()["ports"].items()}

    def publish_args(self) -> list[str]:
        """Node 1's `-p` flags: the foundation's ports on the host's loopback only."""
        return [a for p in sorted(self.ports.values()) for a in ("-p", f"127.0.0.1:{p}:{p}")]

    def cell_nodes(self, cells: int) -> dict[str, int]:
        """cell-N -> the node (1-based) it runs on: one cell per node, round robin."""
        return {f"cell-{i}": (i - 1) % self.nodes + 1 for i in range(1, cells + 1)}

    def scenario_cell_node(self) -> int:
        """A one-cell scenario's cell goes on the last node: a worker when there is one,
        so the router (on node 1) reaches it across nodes."""
        return self.nodes

    def foundation(self, cells: int) -> dict[str, Any]:
        return {"project": self.project, "engine": "swarm", "cells": cells,
                "sample_apps": False, "subnets": dict(SUBNETS), "ports": self.ports}

    def scenario_placement(self) -> dict[str, Any]:
        return {"engine": "swarm", "subnets": dict(SCENARIO_SUBNETS), "ports": self.ports}


@dataclass
class Figures:
    """What the lab measured, printed at the end (and for the README)."""

    nodes: int
    started: dict[str, float] = field(default_factory=dict)    # phase -> seconds
    memory_mib: dict[str, float] = field(default_factory=dict)  # node -> MiB
    routed: dict[str, str] = field(default_factory=dict)        # cell -> node that answered
    verdicts: dict[str, str] = field(default_factory=dict)      # mode -> PASSED/FAILED/...
    total: float = 0.0

    def lines(self) -> list[str]:
        out = [f"swarm lab: {self.nodes} node(s)"]
        out += [f"  {name}: {secs:.1f}s" for name, secs in self.started.items()]
        if self.memory_mib:
            mem = ", ".join(f"{n} {m:.0f} MiB" for n, m in self.memory_mib.items())
            out.append(f"  memory with the foundation up: {mem}"
                       f" (total {sum(self.memory_mib.values()):.0f} MiB)")
        if self.routed:
            out.append("  routed through node 1's router to: "
                       + ", ".join(f"{c} on {n}" for c, n in sorted(self.routed.items())))
        out += [f"  scenario {mode}: {verdict}" for mode, verdict in self.verdicts.items()]
        out.append(f"  total (teardown included): {self.total:.1f}s")
        return out


def host_env() -> dict[str, str]:
    """The caller's environment for this engine itself (not the lab's nodes)."""
    return engines.one_engine_env(os.environ)


def docker(*args: str, check: bool = True, env: dict[str, str] | None = None,
           timeout: float = 120, input: bytes | None = None) -> str:
    return run(["docker", *args], check=check, env=env or host_env(), timeout=timeout,
               input=input).stdout.decode()


def wait_until(what: str, ready: Callable[[], bool], timeout: float) -> None:
    """orchestrator.waiting's wait, failing as the lab's other steps do (a PhaseError)."""
    try:
        waiting.wait_for(ready, timeout, interval=0.5, what=what)
    except waiting.WaitTimeout:
        raise PhaseError(f"{what}: not after {timeout:.0f}s") from None


class Lab:
    """The lab's nodes: start, join, load images, and remove them all."""

    def __init__(self, plan: LabPlan) -> None:
        self.plan = plan
        self.sockets = Path(tempfile.mkdtemp(prefix=f"{plan.project}-"))

    def socket(self, index: int) -> str:
        return f"unix://{self.sockets / f'node-{index}' / 'docker.sock'}"

    def node_env(self, index: int) -> dict[str, str]:
        return {**host_env(), "DOCKER_HOST": self.socket(index)}

    def on(self, index: int, *args: str, **kw: Any) -> str:
        return docker(*args, env=self.node_env(index), **kw)

    def start_nodes(self) -> None:
        p = self.plan
        render.STATE_ROOT.mkdir(parents=True, exist_ok=True)
        labels = ["--label", f"{LABEL}={p.project}"]
        security = node_security(Path("/proc/self/status").read_text())
        docker("network", "create", *labels, "--subnet", str(LAB_SUBNET),
               "-o", "com.docker.network.driver.mtu=1500", p.network)
        for i, name in enumerate(p.names, start=1):
            (self.sockets / f"node-{i}").mkdir()
            docker("volume", "create", *labels, p.volume(name))
            docker("run", "-d", *security, "--init", "--name", name, "--hostname",
                   f"node-{i}", *labels, "--label", f"cflab.lab-node={i}",
                   "--network", p.network,
                   "-v", f"{p.volume(name)}:/var/lib/docker",
                   "-v", f"{render.STATE_ROOT}:{render.STATE_ROOT}",
                   "-v", f"{self.sockets / f'node-{i}'}:/lab",
                   *(p.publish_args() if i == 1 else []), images.ref("node"))
        for i, name in enumerate(p.names, start=1):
            def answers(i: int = i) -> bool:
                env = self.node_env(i)
                return run(["docker", "info"], check=False, env=env).returncode == 0
            try:
                wait_until(f"{name}'s engine", answers, 90)
            except PhaseError:
                logs = docker("logs", "--tail", "15", name, check=False)
                raise PhaseError(f"{name}'s engine did not answer in 90s:\n{logs}") from None

    def node_ip(self, index: int) -> str:
        out = docker("inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{self.plan.network}")'
                     '.IPAddress}}', self.plan.names[index - 1])
        return out.strip()

    def form_swarm(self) -> dict[int, str]:
        """Node 1 inits, the others join as workers; returns node index -> swarm node id."""
        ip = self.node_ip(1)
        self.on(1, "swarm", "init", "--advertise-addr", ip, "--listen-addr", f"{ip}:2377",
                "--default-addr-pool", ADDR_POOL, "--default-addr-pool-mask-length", "24")
        token = self.on(1, "swarm", "join-token", "-q", "worker").strip()
        for i in range(2, self.plan.nodes + 1):
            self.on(i, "swarm", "join", "--token", token, "--advertise-addr",
                    self.node_ip(i), f"{ip}:2377")

        def ready() -> bool:
            out = self.on(1, "node", "ls", "--format", "{{.Status}}", check=False)
            return out.split().count("Ready") == self.plan.nodes
        wait_until("every node Ready in the swarm", ready, 90)
        return {i: self.on(i, "info", "--format", "{{.Swarm.NodeID}}").strip()
                for i in range(1, self.plan.nodes + 1)}

    def load_images(self) -> str:
        """cflab's images into every node: `docker save` once, `docker load` in each."""
        refs = [images.ref(n) for n in NODE_IMAGES]
        with tempfile.NamedTemporaryFile(prefix="cflab-lab-images-", suffix=".tar",
                                         dir="/var/tmp") as tar:
            run(["docker", "save", "-o", tar.name, *refs], env=host_env(), timeout=600)
            size = Path(tar.name).stat().st_size
            for i in range(1, self.plan.nodes + 1):
                with open(tar.name, "rb") as f:
                    proc = subprocess.run(["docker", "load", "-q"], stdin=f, timeout=600,
                                          capture_output=True, env=self.node_env(i))
                if proc.returncode != 0:
                    raise PhaseError(f"docker load into node-{i} failed:"
                                     f" {proc.stderr.decode(errors='replace')[-500:]}")
        return f"{len(refs)} images ({size / 2**20:.0f} MiB) into {self.plan.nodes} node(s)"

    def memory(self) -> dict[str, float]:
        out = docker("stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}",
                     *self.plan.names)
        return {line.split("\t")[0]: stats_mib(line.split("\t")[1])
                for line in out.splitlines() if "\t" in line}

    def label_cells(self, project: str, cells: dict[str, int], node_ids: dict[int, str]) -> None:
        for cell, index in cells.items():
            self.on(1, "node", "update", "--label-add",
                    f"cflab.{project}.{cell}=true", node_ids[index])

    def diagnose(self, path: Path) -> Path:
        """What a failed run leaves to read after the teardown: each node's engine log
        tail, its containers, and the swarm's nodes, services and tasks."""
        parts = []
        for i, name in enumerate(self.plan.names, start=1):
            parts.append(f"== {name}: engine log\n" + docker("logs", "--tail", "30", name,
                                                              check=False))
            parts.append(f"== {name}: docker ps -a\n" + self.on(
                i, "ps", "-a", "--format", "{{.Names}}\t{{.Image}}\t{{.Status}}", check=False))
        for args in (("node", "ls"), ("service", "ls")):
            parts.append(f"== docker {' '.join(args)}\n" + self.on(1, *args, check=False))
        services = self.on(1, "service", "ls", "-q", check=False).split()
        if services:
            parts.append("== docker service ps\n" + self.on(
                1, "service", "ps", "--no-trunc", "--format",
                "{{.Name}}\t{{.Node}}\t{{.CurrentState}}\t{{.Error}}", *services, check=False))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(parts))
        return path

    def teardown(self) -> list[str]:
        """Every node, its volume, the network, the sockets' folder and the lab's state
        folders; returns what is still there (should be nothing)."""
        p = self.plan
        nodes = docker("ps", "-aq", "--filter", f"label={LABEL}={p.project}", check=False)
        if nodes.split():
            docker("rm", "-f", "-v", *nodes.split(), check=False, timeout=180)
        vols = docker("volume", "ls", "-q", "--filter", f"label={LABEL}={p.project}",
                      check=False).split()
        if vols:
            docker("volume", "rm", "-f", *vols, check=False)
        docker("network", "rm", p.network, check=False)
        shutil.rmtree(self.sockets, ignore_errors=True)
        for project in (p.project, SCENARIO_PROJECT):
            shutil.rmtree(render.state_dir(project), ignore_errors=True)
        left = []
        for kind in (("ps", "-aq"), ("volume", "ls", "-q"), ("network", "ls", "-q")):
            found = docker(*kind, "--filter", f"label={LABEL}={p.project}", check=False)
            left += [f"{kind[0]} {x}" for x in found.split()]
        return left


@contextmanager
def lab_engines(lab: Lab) -> Iterator[None]:
    """cflab's own commands aimed at the lab: DOCKER_HOST is node 1 (the manager),
    CFLAB_DOCKER_NODES every node's engine, cells mount their node's socket."""
    saved = {k: os.environ.get(k) for k in engines.LAB_ENV}
    os.environ["DOCKER_HOST"] = lab.socket(1)
    os.environ[engines.NODES_ENV] = ",".join(lab.socket(i)
                                              for i in range(1, lab.plan.nodes + 1))
    os.environ[CELL_SOCKET_ENV] = CELL_SOCKET
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def terminate(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl-C: the lab's `finally` tears it down."""
    raise KeyboardInterrupt


def get_identity(port: int, host: str) -> dict[str, Any] | None:
    """The identity app's answer through the router on 127.0.0.1 (None: no answer)."""
    try:
        with httpclient.session() as http:
            body = http.get(f"http://127.0.0.1:{port}/", headers={"Host": host},
                            timeout=5).json()
    except (requests.RequestException, ValueError):
        return None
    return body if isinstance(body, dict) else None


def check_routing(lab: Lab, cells: dict[str, int], timeout: float = 120) -> dict[str, str]:
    """Push an app with one instance per cell; until every cell's instance has answered
    through the router on node 1. Returns cell -> the node it runs on."""
    from orchestrator.foundation import Foundation
    from orchestrator.scenario.faults import foundation_ip
    from orchestrator.scenario.platform import CF
    cfg = config.load(None, lab.plan.foundation(len(cells)))
    foundation = Foundation(cfg)
    ips = {foundation_ip(s["container"], cfg.project): job
           for job, s in foundation.job_states().items() if job in cells}
    CF(foundation.cf_home).push("hello", "hello", len(cells))   # hello.<apps domain>
    seen: dict[str, str] = {}

    def all_answered() -> bool:
        body = get_identity(cfg.ports["http"], f"hello.{cfg.apps_domain}")
        cell = ips.get((body or {}).get("cell_ip", ""))
        if cell:
            seen[cell] = lab.plan.names[cells[cell] - 1]
        return len(seen) == len(cells)
    wait_until("an answer from every cell through the router", all_answered, timeout)
    return seen


def run_lab(nodes: int, scenario: str, modes: list[str], out: Path) -> int:
    """The whole lab; always torn down. 0 when every scenario mode passed."""
    from orchestrator.foundation import Foundation
    from orchestrator.scenario import schema
    from orchestrator.scenario.results import PASSED
    from orchestrator.scenario.runner import run_scenario

    plan = LabPlan(nodes)
    found = schema.discover()
    if scenario not in found:
        raise LabError(f"--scenario {scenario}: no such scenario ({', '.join(sorted(found))})")
    sc = schema.load_file(found[scenario])
    bad = [m for m in modes if m not in sc.modes]
    if bad:
        raise LabError(f"--modes: {', '.join(bad)} not in {scenario}'s modes"
                       f" ({', '.join(sc.modes)})")
    figures = Figures(nodes)
    started = time.monotonic()
    signal.signal(signal.SIGTERM, terminate)
    lab = Lab(plan)
    try:
        with phase("images") as notes:
            built = images.build((*images.BUILD_ORDER, "node"))
            notes.append(f"built {', '.join(built)}" if built else "all present")
        t0 = time.monotonic()
        with phase(f"{nodes} Docker-in-Docker nodes") as notes:
            lab.start_nodes()
            notes.append(", ".join(plan.names))
        with phase("swarm") as notes:
            node_ids = lab.form_swarm()
            notes.append(f"node-1 manager, {nodes - 1} worker(s), pool {ADDR_POOL}")
        with phase("images into the nodes") as notes:
            notes.append(lab.load_images())
        figures.started["nodes + swarm + images"] = time.monotonic() - t0
        cells = plan.cell_nodes(nodes)
        with lab_engines(lab):
            t0 = time.monotonic()
            with phase(f"foundation {plan.project}: {nodes} cells, one per node"):
                lab.label_cells(plan.project, cells, node_ids)
                Foundation(config.load(None, plan.foundation(nodes))).up(wait=300)
            figures.started["foundation up (cflab up --engine swarm)"] = time.monotonic() - t0
            with phase("routing across nodes") as notes:
                figures.routed = check_routing(lab, cells)
                figures.memory_mib = lab.memory()
                notes.append(", ".join(f"{c}@{n}" for c, n in sorted(figures.routed.items())))
            with phase("foundation down"):
                Foundation(config.load(None, plan.foundation(nodes))).down()
            for mode in modes:
                where = plan.scenario_cell_node()
                with phase(f"scenario {scenario} / {mode} (cell-1 on node-{where})") as notes:
                    lab.label_cells(SCENARIO_PROJECT, {"cell-1": where}, node_ids)
                    results = run_scenario(sc, [mode], out=out, project=SCENARIO_PROJECT,
                                           placement=plan.scenario_placement(),
                                           log=lambda m: info(m))
                    r = results[0]
                    figures.verdicts[mode] = r.status.upper() + (f" ({r.error})" if r.error
                                                                else "")
                    notes.append(figures.verdicts[mode])
    except BaseException:
        try:
            info(f"diagnostics: {lab.diagnose(out / 'diagnostics.txt')}")
        except Exception as exc:  # noqa: BLE001 - the teardown must still run
            info(f"diagnostics failed: {exc}")
        raise
    finally:
        with phase("teardown") as notes:
            left = lab.teardown()
            notes.append("nothing left" if not left else f"LEFT: {', '.join(left)}")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        figures.total = time.monotonic() - started
        for line in figures.lines():
            print(line, flush=True)
        (out / "swarm-lab.json").parent.mkdir(parents=True, exist_ok=True)
        (out / "swarm-lab.json").write_text(json.dumps(figures.__dict__, indent=2) + "\n")
    if left:
        raise PhaseError(f"teardown left {', '.join(left)}")
    return 0 if all(v.startswith(PASSED.upper()) for v in figures.verdicts.values()) else 1
