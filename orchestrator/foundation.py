"""Start, stop and inspect a foundation: the phases behind `cflab up/down/status`."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path

from orchestrator import engines, images, job_health, render, stack, swarm
from orchestrator.config import FoundationConfig
from orchestrator.docker_cli import (
    LABEL,
    compose_command,
    ids,
    inspect,
    networks,
    remove_containers,
    remove_network,
    run,
    socket_path,
)
from orchestrator.progress import PhaseError, info, phase

SAMPLE_APP_DIR = render.ROOT / "foundry" / "apps" / "identity"
SAMPLE_APPS = (("hello", 2), ("other", 1))
ONE_SHOT = ("pki",)
# what the jobs' own checks gave, per container run (Foundation.checked_states)
_REMEMBERED = job_health.Remembered()


@dataclass
class Foundation:
    cfg: FoundationConfig

    @property
    def project(self) -> str:
        return self.cfg.project

    def compose(self, *args: str, check: bool = True, capture: bool = True,
                timeout: float | None = None) -> subprocess.CompletedProcess:
        files: list[str] = []
        for f in render.compose_files(self.project):
            files += ["-f", str(f)]
        cmd = [*compose_command(), "-p", self.project, "--project-directory",
               str(render.ROOT), *files, *args]
        env = dict(os.environ, **render.compose_env(self.cfg))
        return run(cmd, check=check, capture=capture, env=env, timeout=timeout)

    # -- preflight -------------------------------------------------------------

    def running_containers(self) -> list[str]:
        """This foundation's job containers, under Compose or as a swarm stack's tasks."""
        return sorted(set(ids("container", f"com.docker.compose.project={self.project}"))
                      | set(ids("container", f"{stack.STACK_LABEL}={self.project}")))

    def check_ports(self) -> None:
        """A published port already taken on 127.0.0.1 by something that is not us."""
        if self.running_containers():
            return  # ours hold them; `up` is idempotent
        if os.environ.get(engines.NODES_ENV):
            return  # `cflab swarm-lab`: its node 1 publishes these ports for the foundation
        for name, port in self.cfg.ports.items():
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    raise PhaseError(
                        f"ports.{name}: 127.0.0.1:{port} is already in use; free it or set"
                        f" ports.{name} in the foundation config"
                    ) from None

    def check_subnets(self) -> None:
        """Another Docker network (not this foundation's) overlapping ours."""
        ours = [("subnets.foundation", self.cfg.foundation_subnet)] + [
            (f"subnets.cell_containers ({name})", self.cfg.cell_subnet(i))
            for i, name in enumerate(self.cfg.cell_names, start=1)
        ]
        for net_name, labels, subnets in networks():
            if self.project in (labels.get("com.docker.compose.project"),
                                labels.get(stack.STACK_LABEL)):
                continue
            for subnet in subnets:
                for field, mine in ours:
                    if mine.overlaps(IPv4Network(subnet, strict=False)):
                        raise PhaseError(
                            f"{field}: {mine} clashes with Docker network {net_name!r}"
                            f" ({subnet}); choose another subnet in the foundation config"
                        )

    # -- up --------------------------------------------------------------------

    def up(self, wait: float = 180.0) -> None:
        started = time.monotonic()
        with phase("preflight") as notes:
            self.check_engine()
            self.check_ports()
            self.check_subnets()
            notes.append(f"mode {self.cfg.mode}, {self.cfg.cells} cells, project {self.project},"
                         f" proxy {self.cfg.proxy}, engine {self.cfg.engine}")
        with phase("images") as notes:
            built = images.build(images.for_proxy(self.cfg.proxy))
            notes.append(f"built {', '.join(built)}" if built else "all present")
        with phase("configs") as notes:
            paths = render.render_all(self.cfg, socket_path())
            notes.append(f"{len(paths)} files in {render.state_dir(self.project)}")
        with phase("pki and jobs") as notes:
            if self.cfg.engine == "swarm":
                healthy = self.deploy_stack(wait)
            else:
                self.compose("up", "-d", "--remove-orphans")
                healthy = self.wait_healthy(wait)
            notes.append(f"{len(healthy)} healthy: {', '.join(sorted(healthy))}")
        with phase("cf") as notes:
            path = self.write_cf_config()
            notes.append(f"API {render.cc_url(self.cfg)}, UAA {render.uaa_url(self.cfg)},"
                         f" logged in as {self.admin[0]} ({path})")
        with phase("cfdot") as notes:
            setup = self.write_cfdot_config()
            notes.append(f"BBS {self.bbs_url} (mutual TLS); client certificate in"
                         f" {setup.parent}")
        if self.cfg.sample_apps:
            with phase("apps") as notes:
                for name, instances in SAMPLE_APPS:
                    self.cf("push", name, "-p", str(SAMPLE_APP_DIR), "-i", str(instances))
                    notes.append(f"{name} ×{instances}")
        info(f"dashboard http://127.0.0.1:{self.cfg.ports['dashboard']}/")
        info(f"foundation {self.project!r} is up in {time.monotonic() - started:.1f}s")

    def check_engine(self) -> None:
        """One foundation, one engine: a project running under the other is taken down
        first (`cflab down` removes either)."""
        stacked = bool(swarm.services(self.project))
        composed = bool(ids("container", f"com.docker.compose.project={self.project}"))
        other = composed if self.cfg.engine == "swarm" else stacked
        if other:
            was = "Compose" if self.cfg.engine == "swarm" else "a swarm stack"
            raise PhaseError(f"foundation {self.project!r} runs under {was}: `cflab down`"
                             f" first, then `cflab up --engine {self.cfg.engine}`")
        if self.cfg.engine == "swarm":
            _, manager = swarm.local_node()
            if not manager:
                raise PhaseError("engine: swarm deploys from a manager node; this engine is"
                                 " a worker")

    def stack_path(self, name: str = "stack.yml") -> Path:
        return render.state_dir(self.project) / name

    def render_stack(self, only: tuple[str, ...] = ()) -> dict:
        node, _ = swarm.local_node()
        return stack.stack_file(render.COMPOSE_FILE.read_text(), render.compose_env(self.cfg),
                                render.cells_compose(self.cfg, socket_path()), self.project,
                                node, only)

    def deploy_stack(self, wait: float) -> list[str]:
        """The PKI step alone (swarm has no depends_on), then the whole stack; returns
        the healthy jobs."""
        node, _ = swarm.local_node()
        placed = swarm.place_cells(self.project, self.cfg.cell_names, node)
        swarm.deploy(stack.write(self.stack_path("stack-pki.yml"), self.render_stack(("pki",))),
                     self.project)
        self.wait_done("pki", wait)
        cells = render.cells_compose(self.cfg, socket_path())["services"].values()
        volumes = sorted({v.split(":")[0] for svc in cells for v in svc["volumes"]
                          if not v.startswith("/")})
        copies = swarm.copy_volumes(self.project, volumes, node, set(placed.values()),
                                    images.ref("base"))
        if copies:
            info(f"copied {', '.join(volumes)} to the cells' other nodes ({copies} copies)")
        full = self.render_stack()
        swarm.deploy(stack.write(self.stack_path(), full), self.project, prune=True)
        return self.wait_healthy(wait, expected=set(full["services"]))

    def wait_done(self, job: str, timeout: float) -> None:
        """Until a one-shot step's task has exited 0 (its failure fails `up`)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.job_states().get(job)
            if state and _done(job, state):
                return
            if state and state["state"] in ("exited", "dead"):
                logs = run(["docker", "logs", "--tail", "20", state["container"]], check=False)
                raise PhaseError(f"{job} exited {state['exit_code']}:\n"
                                 + (logs.stdout + logs.stderr).decode(errors="replace"))
            if time.monotonic() > deadline:
                raise PhaseError(f"{job} did not finish in {timeout:.0f}s")
            time.sleep(0.25)

    def wait_replaced(self, old: dict[str, str], timeout: float) -> None:
        """Until each job's newest container differs from `old[job]` (a forced service
        update stops the old task before it creates the new one)."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.job_states()
            if all(states.get(j, {}).get("container", c) != c for j, c in old.items()):
                return
            if time.monotonic() > deadline:
                raise PhaseError(f"jobs not replaced after {timeout:.0f}s: {', '.join(old)}")
            time.sleep(0.25)

    @property
    def cf_home(self) -> Path:
        return render.state_dir(self.project) / "cf"

    @property
    def admin(self) -> tuple[str, str]:
        """The first UAA user of the foundation config (admin/admin by default)."""
        user = (self.cfg.uaa.get("users") or [{"username": "admin", "password": "admin"}])[0]
        return user["username"], user["password"]

    def write_cf_config(self) -> Path:
        """Log the host's `cf` in to this foundation (`cf login` as the first UAA user).

        The config lands where the Go CLI keeps it (`$CF_HOME/.cf/config.json`) and
        trusts the foundation's CA, so the tokens it holds work for any caller.
        """
        cc = self.job_states()["cloud-controller"]["container"]
        ca = run(["docker", "exec", cc, "cat",
                  "/var/vcap/jobs/cloud_controller/secrets/system_ca.crt"]).stdout.decode()
        return login(self.cf_home, render.cc_url(self.cfg), render.uaa_url(self.cfg), ca,
                     *self.admin)

    @property
    def cfdot_dir(self) -> Path:
        return render.state_dir(self.project) / "cfdot"

    @property
    def cfdot_setup_shown(self) -> str:
        """`setup`'s path as the user types it (relative to the working directory)."""
        return _shown(self.cfdot_dir / "setup")

    @property
    def bbs_url(self) -> str:
        """The BBS as the host reaches it: its published port (the certificate covers
        127.0.0.1)."""
        return f"https://127.0.0.1:{self.cfg.ports['bbs']}"

    def write_cfdot_config(self) -> Path:
        """The host user's cfdot credentials, as diego's cfdot job lays them out on a VM:
        `ca.crt`, `client.crt`, `client.key` (0600) and `setup`, which exports BBS_URL,
        CA_CERT_FILE, CLIENT_CERT_FILE and CLIENT_KEY_FILE. They come out of the PKI
        step's container (its secrets volume for the host); no job container holds them.
        """
        pki = self.job_states().get("pki")
        if pki is None:
            raise PhaseError("the PKI step's container is gone: run `cflab up` again")
        out = self.cfdot_dir
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        run(["docker", "cp", f"{pki['container']}:/var/vcap/secrets/host/.", str(out)])
        out.chmod(0o700)
        for name in ("ca.crt", "client.crt", "client.key"):
            if not (out / name).is_file():
                raise PhaseError(f"the PKI step wrote no {name} for the host in {out}")
            (out / name).chmod(0o600 if name.endswith(".key") else 0o644)
        setup = out / "setup"
        setup.write_text(
            "# cfdot's settings for this foundation's BBS (mutual TLS), as diego's cfdot job\n"
            "# exports them on a Diego VM: `source` this file, then run cfdot.\n"
            f"export BBS_URL={self.bbs_url}\n"
            f"export CA_CERT_FILE={out / 'ca.crt'}\n"
            f"export CLIENT_CERT_FILE={out / 'client.crt'}\n"
            f"export CLIENT_KEY_FILE={out / 'client.key'}\n")
        return setup

    def cfdot_env(self) -> dict[str, str]:
        """The variables `setup` exports, for a cfdot run from Python."""
        out = self.cfdot_dir
        return {"BBS_URL": self.bbs_url, "CA_CERT_FILE": str(out / "ca.crt"),
                "CLIENT_CERT_FILE": str(out / "client.crt"),
                "CLIENT_KEY_FILE": str(out / "client.key")}

    def cf(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, CF_HOME=str(self.cf_home))
        return run([sys.executable, "-m", "foundry.cli.cf", *args], env=env)

    def switch_mode(self, wait: float = 180.0) -> None:
        """Re-render the configs for the new mode; recreate the router, CC, ssh-proxy, cells.

        A restarted rep destroys its old containers and hands their instances
        back to the BBS, so every app comes back in the new mode's shape.
        """
        with phase(f"mode {self.cfg.mode}") as notes:
            render.render_all(self.cfg, socket_path())
            jobs = ["router", "cloud-controller", "ssh-proxy", "dashboard", *self.cfg.cell_names]
            if self.cfg.engine == "swarm":
                states = self.job_states()
                swarm.force_update(self.project, jobs)
                self.wait_replaced({j: states[j]["container"] for j in jobs if j in states},
                                   wait)
            else:
                self.compose("up", "-d", "--no-deps", "--force-recreate", *jobs)
            healthy = self.wait_healthy(wait)
            notes.append(f"recreated {', '.join(jobs)}; {len(healthy)} jobs healthy")

    def job_states(self) -> dict[str, dict]:
        """Service name -> {state, health, ports} for this project's job containers (a
        swarm service's newest task: older tasks' containers stay as its history)."""
        states = {}
        found = inspect("container", self.running_containers())
        for c in sorted(found, key=lambda c: c.get("Created", "")):
            labels = c["Config"]["Labels"] or {}
            service = _service_name(labels, self.project) or c["Name"].lstrip("/")
            state = c["State"]
            check, retries, checked_by = job_health.check_of(c["Config"])
            states[service] = {
                "container": c["Name"].lstrip("/"),
                "state": state["Status"],
                "health": (state.get("Health") or {}).get("Status") or (
                    "starting" if checked_by == "cflab" else "none"),
                "exit_code": state.get("ExitCode"),
                "check": check,
                "retries": retries,
                "checked_by": checked_by,
                "started_at": state.get("StartedAt", ""),
            }
        return states

    def checked_states(self) -> dict[str, dict]:
        """`job_states` with each job's health as `job_health.Remembered` gives it: where
        Docker has not checked a job yet (or never does, on a swarm), the job's own
        check run now, its pass remembered so that a page polling status probes rarely."""
        states = self.job_states()
        now = time.monotonic()
        for v in states.values():
            v["health"] = _REMEMBERED.health(v, lambda v=v: self.probe(v), now)
        return states

    def probe(self, state: dict) -> bool | None:
        """Run a job's own health check now (None: no answer within 10 s, as on a busy
        engine), instead of waiting for Docker's next one or where Docker runs none."""
        check = state["check"]
        if state["state"] != "running" or not check or check[0] not in ("CMD", "CMD-SHELL"):
            return False
        cmd = check[1:] if check[0] == "CMD" else ["sh", "-c", check[1]]
        try:
            proc = run(["docker", "exec", state["container"], *cmd], check=False, timeout=10)
        except subprocess.TimeoutExpired:
            return None
        return proc.returncode == 0

    def wait_healthy(self, timeout: float, expected: set[str] | None = None) -> list[str]:
        """Until every job is healthy; `expected`: jobs whose containers may not exist
        yet (a swarm creates a service's task after the deploy returns)."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.checked_states()
            broken = {s: v for s, v in states.items() if not _done(s, v) and (
                v["state"] in ("exited", "dead") or v["health"] == "unhealthy")}
            if broken:
                name = next(iter(broken))
                logs = run(["docker", "logs", "--tail", "20", broken[name]["container"]],
                           check=False)
                tail = (logs.stdout + logs.stderr).decode(errors="replace")
                raise PhaseError(f"job {name} is {broken[name]['state']}/"
                                 f"{broken[name]['health']}; last log lines:\n{tail}")
            jobs = {s: v for s, v in states.items() if not _done(s, v)}
            if jobs and not (expected or set()) - set(states) and all(
                    v["health"] in ("healthy", "none") for v in jobs.values()):
                return list(jobs)
            if time.monotonic() > deadline:
                waiting = [s for s, v in jobs.items() if v["health"] not in ("healthy", "none")]
                raise PhaseError(f"not healthy after {timeout:.0f}s: {', '.join(waiting)}"
                                 f" (see `cflab logs JOB`)")
            time.sleep(0.25)

    # -- down ------------------------------------------------------------------

    def down(self) -> dict[str, int]:
        """Remove this project's containers (also cell-made ones), networks, volumes;
        on a swarm first its stack (`docker stack rm`) and its cells' node labels."""
        if swarm.in_swarm():
            swarm.remove(self.project)
            swarm.unplace_cells(self.project)
        jobs = (f"com.docker.compose.project={self.project}",
                f"{stack.STACK_LABEL}={self.project}")
        labels = (f"{LABEL}={self.project}", *jobs)
        containers = remove_containers(jobs)  # the cells first: they create the others
        containers |= remove_containers(labels)
        nets = {n for label in labels for n in ids("network", label)}
        for net in nets:
            if not remove_network(net):  # a container made after the listing holds it
                containers |= remove_containers(labels)
                remove_network(net)
        vols = {v for label in labels for v in ids("volume", label)}
        if vols:
            run(["docker", "volume", "rm", "-f", *vols], check=False)
        shutil.rmtree(render.state_dir(self.project), ignore_errors=True)
        return {"containers": len(containers), "networks": len(nets), "volumes": len(vols)}

    # -- status ----------------------------------------------------------------

    def status(self) -> dict:
        saved = render.state_dir(self.project) / "foundation.json"
        mode = json.loads(saved.read_text())["mode"] if saved.exists() else None
        setup = self.cfdot_dir / "setup"
        return {"project": self.project, "mode": mode, "jobs": self.checked_states(),
                "dashboard": f"http://127.0.0.1:{self.cfg.ports['dashboard']}/",
                "bbs": self.bbs_url,
                "cfdot": f"source {self.cfdot_setup_shown}; cfdot cells"
                if setup.exists() else ""}


def login(cf_home: Path, api: str, uaa: str, ca: str, username: str, password: str,
          timeout: float = 60.0) -> Path:
    """What `cf login -a API -u USER -p PASS` leaves in CF_HOME, retried while UAA starts."""
    from foundry.cli import cf_client, uaa_client

    cfg = cf_client.CFConfig(api=api, ca_cert=ca, authorization_endpoint=uaa, uaa_endpoint=uaa)
    deadline = time.monotonic() + timeout
    while True:
        try:
            tokens = uaa_client.token_grant(uaa, cfg.ssl_context(), "cf", "", {
                "grant_type": "password", "username": username, "password": password})
            break
        except cf_client.CFError as e:
            if "Request error" not in str(e) or time.monotonic() > deadline:
                raise PhaseError(f"cf login as {username} at {uaa}: {e}") from None
            time.sleep(0.5)
    cfg.access_token = f"bearer {tokens['access_token']}"
    cfg.refresh_token = tokens.get("refresh_token", "")
    return cfg.save(cf_home)


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when under it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _service_name(labels: dict[str, str], project: str) -> str | None:
    """The job a container runs: Compose's service, or a swarm task's service without
    the stack's `<project>_` prefix."""
    if "com.docker.compose.service" in labels:
        return labels["com.docker.compose.service"]
    name = labels.get(stack.SERVICE_LABEL)
    return name.removeprefix(f"{project}_") if name else None


def _done(service: str, state: dict) -> bool:
    """One-shot steps (the PKI) that finished well are not jobs to wait on."""
    return service in ONE_SHOT and state["state"] == "exited" and state["exit_code"] == 0


def saved_config_path(project: str) -> Path | None:
    path = render.state_dir(project) / "foundation.json"
    return path if path.exists() else None
