"""The executor: runs each app instance's container through its whole life.

Start: host ports, container IP, instance credential (signed by the cell's
intermediate), proxy config, files copied in before any process runs, DNAT,
then sshd, the proxy and the app, and the startup health check. Running:
rotation on credmanager's schedule, liveness, crash reports. Stop: CF's
sequence — an invalid certificate first, `configuration_reload_duration`, then
the processes go — so the router moves traffic before the instance vanishes.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import subprocess
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foundry.bbs.client import BBSClient, BBSError
from foundry.loggregator import Reporter, gauge_envelope
from foundry.pki import Credential, issue_instance_identity, new_instance_guid, rotation_period
from foundry.rep import bits, dnat, proxy_config
from foundry.rep.crash_watch import WATCHED_PROCESSES, ended_watched
from foundry.rep.garden import Garden, GardenError
from foundry.rep.instance import InstanceEnv, PortMapping, plan_mappings
from foundry.rep.keys import KeyPool
from foundry.rep.limits import DEFAULT_MAX_CPU_SHARES, DEFAULT_MAX_PIDS, limits_for
from foundry.rep.policy_agent import PolicyAgent
from foundry.rep.ports import FifoAllocator, FirstFitAllocator

log = logging.getLogger("rep.executor")

CRED_DIR = "/etc/cf-instance-credentials"
SYSTEM_CERT_DIR = "/etc/cf-system-certificates"
VCAP_UID = 2000
ENVOY = "/etc/cf-assets/envoy/envoy"
HEALTHCHECK = "/etc/cf-assets/healthcheck/healthcheck"
LAUNCHER = "/tmp/lifecycle/launcher"
SSH_DIR = "/etc/cf-assets/ssh"
VCAP_UID = 2000  # the stack's vcap user


@dataclass
class ExecutorConfig:
    cell_id: str
    cell_ip: str
    container_subnet: str
    garden_network: str
    stack_image: str
    foundation: str
    proxy_enabled: bool
    strict: bool
    unproxied_port_mappings: bool
    proxy_config_layout: str
    validity: float
    reload_duration: float
    key_size: int
    startup_interval: float
    startup_timeout: float
    liveness_interval: float
    trusted_ca: str
    verify_subject_alt_name: list[str]
    system_certs: dict[str, bytes]
    state_dir: Path
    cell_container_ip: str = ""
    platform_services: list[dnat.PlatformService] = field(default_factory=list)
    proxy_memory_mb: int = 32
    max_cpu_shares: int = DEFAULT_MAX_CPU_SHARES
    max_pids: int = DEFAULT_MAX_PIDS
    metrics_interval: float = 15.0  # rep container_metrics_report_interval
    spare_keys: int = 64  # at most this many instance keys made ahead (keys.KeyPool)
    ssh_authorized_keys: bytes = b""  # the ssh-proxy's key, authorized for vcap in instances


@dataclass
class Container:
    process_guid: str
    index: int
    instance_guid: str
    desired: dict[str, Any]
    ip: str = ""
    cid: str = ""
    mappings: list[PortMapping] = field(default_factory=list)
    rotate_at: float = 0.0
    serial: int = 0
    processes: dict[str, str] = field(default_factory=dict)  # name -> exec id
    state: str = "starting"
    exit_status: int | None = None  # the app process's, when it exited
    cpu_sample: tuple[int, int] = (0, 0)  # (cpu ns, wall ns) at the last metrics read
    disk_sample: tuple[int, int] = (0, -(1 << 62))  # (bytes, wall ns) of the last size read
    cleaned: bool = False  # its cleanup ran: a container created after it must go at once
    # exits Docker reported while it was starting: exec ids, "" for the container
    early_exits: set[str] = field(default_factory=set)

    @property
    def log_guid(self) -> str:
        return str(self.desired.get("log_guid") or "")

    @property
    def handle(self) -> str:
        return self.instance_guid

    @property
    def dnat_mappings(self) -> list[dnat.Mapping]:
        out = []
        for m in self.mappings:
            if m.host_port:
                out.append(dnat.Mapping(m.host_port, self.ip, m.container_port, self.handle))
            if m.host_tls_proxy_port:
                out.append(dnat.Mapping(m.host_tls_proxy_port, self.ip,
                                        m.container_tls_proxy_port, self.handle))
        return out


class StartFailed(RuntimeError):
    pass


def residual_instances(containers: dict[str, Container],
                       held: list[dict[str, Any]]) -> list[str]:
    """Handles of the instances that are starting or running here although the BBS no
    longer gives their actual LRP to this cell with their instance guid (unclaimed by
    convergence, re-placed, retired or no longer desired): Diego's rep deletes such
    containers (``lrp_processor``: the container's instance key no longer matches)."""
    mine = {lrp.get("instance_guid") for lrp in held
            if lrp.get("state") in ("CLAIMED", "RUNNING")}
    return sorted(h for h, c in containers.items()
                  if c.state in ("starting", "running") and c.instance_guid not in mine)


DISK_REFRESH_NS = 60 * 1_000_000_000  # disk usage walks the app's files: once a minute


def exit_description(source: str, status: int | None, out_of_memory: bool) -> str:
    """The executor's run-step message: `<source>: Exited with status N`, with
    ` (out of memory)` when Garden saw an OOM event in the container."""
    text = f"{source}: Exited with status {status}"
    return f"{text} (out of memory)" if out_of_memory else text


def iptables(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(["iptables", "-w", *args], capture_output=True, text=True)


def iptables_restore(rules: str) -> subprocess.CompletedProcess:
    """Apply `rules` (dnat.restore_input) in one transaction, the other rules untouched."""
    return subprocess.run(["iptables-restore", "-w", "--noflush"], input=rules,
                          capture_output=True, text=True)


class Executor:
    def __init__(self, cfg: ExecutorConfig, garden: Garden, bbs: BBSClient,
                 signer: Credential, ports: FirstFitAllocator | FifoAllocator,
                 reporter: Reporter | None = None) -> None:
        self.cfg, self.garden, self.bbs, self.signer, self.ports = cfg, garden, bbs, signer, ports
        self.reporter = reporter or Reporter("")
        self.containers: dict[str, Container] = {}
        self.lock = threading.RLock()
        self.validity = dt.timedelta(seconds=cfg.validity)
        self.keys = KeyPool(cfg.key_size, spares=cfg.spare_keys)
        self.rotation = rotation_period(self.validity).total_seconds()
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="garden")
        # Addresses Docker refused as taken though no container holds them (a stale
        # endpoint left in the network); never offered again by this rep.
        self.bad_ips: set[str] = set()
        # The cell's policy agent (container-to-container default deny); None: no rules.
        self.policy: PolicyAgent | None = None

    # -- setup -----------------------------------------------------------------

    def setup_network(self) -> None:
        chains, ensure = dnat.setup_commands(
            self.cfg.container_subnet, self.cfg.cell_ip if self.policy is not None else "")
        for cmd in chains:
            iptables(cmd)  # -N fails when the chain exists; -F then empties it
        for service in self.cfg.platform_services:
            ensure += service.rules(self.cfg.cell_container_ip)
        for table_flag, table, chain, *rule in ensure:
            if iptables([table_flag, table, "-C", chain, *rule]).returncode != 0:
                res = iptables([table_flag, table, "-A", chain, *rule])
                if res.returncode != 0:
                    raise RuntimeError(f"iptables: {res.stderr.strip()}")

    def reap_orphans(self) -> None:
        """Containers a previous rep process left: gone with their ports and rules."""
        for handle, cid in self.garden.list_handles().items():
            log.info("destroying orphaned container %s", handle)
            self.garden.destroy(cid)

    # -- start -----------------------------------------------------------------

    def _allocate_ip(self) -> str:
        used = self.garden.used_ips() | {c.ip for c in self.containers.values()} | self.bad_ips
        net = ipaddress.IPv4Network(self.cfg.container_subnet)
        for host in list(net.hosts())[1:]:  # .1 is the bridge's gateway
            if str(host) not in used:
                return str(host)
        raise StartFailed("no free container IP on the cell's network")

    def _issue(self, c: Container, guid: str) -> Credential:
        ou = (c.desired.get("certificate_properties") or {}).get("organizational_unit") or []
        return issue_instance_identity(self.signer, guid, ou, c.ip, key_size=self.cfg.key_size,
                                       validity=self.validity, key=self.keys.take())

    def _proxy_files(self, c: Container, cred: Credential) -> dict[str, tuple[bytes, int, int]]:
        spec = proxy_config.ProxySpec(
            container_ip=c.ip, app_ports=list(c.desired.get("ports") or []),
            cert_chain=cred.chain_pem.decode(), private_key=cred.key_pem.decode(),
            strict=self.cfg.strict, trusted_ca=self.cfg.trusted_ca,
            verify_subject_alt_name=tuple(self.cfg.verify_subject_alt_name),
            layout=self.cfg.proxy_config_layout)
        return {name: (text.encode(), 0o600, 0) for name, text in proxy_config.render(spec).items()}

    def _certificate_files(self, c: Container, cred: Credential) -> dict[str, tuple[bytes, int, int]]:
        """Only the proxy files that carry the certificate: what a rotation or stop rewrites."""
        names = proxy_config.certificate_files(self.cfg.proxy_config_layout)
        return {n: v for n, v in self._proxy_files(c, cred).items() if n in names}

    def _keep_copy(self, kind: str, c: Container, files: dict[str, tuple[bytes, int, int]]) -> None:
        """The cell's own copy, where `ls` on a real cell shows it."""
        d = self.cfg.state_dir / kind / c.handle
        d.mkdir(parents=True, exist_ok=True)
        for name, (content, mode, _) in files.items():
            tmp = d / f"{name}.tmp"
            tmp.touch(mode=0o600)
            tmp.write_bytes(content)
            tmp.chmod(mode)
            tmp.replace(d / name)

    def _cred_files(self, cred: Credential) -> dict[str, tuple[bytes, int, int]]:
        return {"instance.crt": (cred.chain_pem, 0o644, VCAP_UID),
                "instance.key": (cred.key_pem, 0o600, VCAP_UID)}

    def start(self, desired: dict[str, Any], actual: dict[str, Any]) -> None:
        c = Container(process_guid=desired["process_guid"], index=int(actual["index"]),
                      instance_guid=new_instance_guid(), desired=desired)
        try:
            self.bbs.lifecycle("claim", process_guid=c.process_guid, index=c.index,
                               instance_guid=c.instance_guid, cell_id=self.cfg.cell_id)
        except BBSError as exc:
            log.info("claim of %s/%d refused: %s", c.process_guid, c.index, exc)
            return
        with self.lock:
            self.containers[c.handle] = c
        threading.Thread(target=self._run, args=(c,), name=f"lrp-{c.handle}", daemon=True).start()

    def _cell_log(self, c: Container, message: str, stream: str = "OUT") -> None:
        self.reporter.log(c.log_guid, c.index, "CELL", message, stream)

    def _run(self, c: Container) -> None:
        t0 = time.monotonic()
        try:
            self._cell_log(c, f"Cell {self.cfg.cell_id} creating container for instance "
                              f"{c.instance_guid}")
            self._create(c)
            self._cell_log(c, f"Cell {self.cfg.cell_id} successfully created container for "
                              f"instance {c.instance_guid}")
            t1 = time.monotonic()
            self._await_healthy(c, self._run_processes(c))
            log.info("instance %s: container %.2fs, processes and startup checks %.2fs",
                     c.handle, t1 - t0, time.monotonic() - t1)
        except (StartFailed, GardenError, OSError) as exc:
            self._crash(c, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the LRP CLAIMED forever
            log.exception("starting instance %s failed", c.handle)
            self._crash(c, f"failed to start the container: {type(exc).__name__}: {exc}")
            return
        with self.lock:
            if c.state != "starting":
                return
            c.state = "running"
            early, c.early_exits = c.early_exits, set()
        try:
            self.bbs.lifecycle(
                "start", process_guid=c.process_guid, index=c.index, instance_guid=c.instance_guid,
                cell_id=self.cfg.cell_id, address=self.cfg.cell_ip, instance_address=c.ip,
                ports=[m.as_bbs() for m in c.mappings], preferred_address="HOST",
                availability_zone="z1")
            log.info("instance %s of %s/%d is RUNNING on %s", c.handle, c.process_guid, c.index, c.ip)
            self._cell_log(c, "Container became healthy")
        except BBSError as exc:
            log.warning("BBS refused start of %s: %s; stopping it", c.handle, exc)
            self.stop(c.handle)  # its remove ends a stop request the BBS holds for it
            return
        # A watched process that died while the instance started: its event came before
        # its exec id was sure to be on record, so it is matched now.
        if ended_watched(early, c.processes):
            self.check_crash(c.handle)

    def _create(self, c: Container) -> None:
        with self.lock:
            c.ip = self._allocate_ip()
            c.mappings = plan_mappings(
                list(c.desired.get("ports") or []), proxy=self.cfg.proxy_enabled,
                unproxied=self.cfg.unproxied_port_mappings,
                acquire=lambda: self.ports.acquire(c.handle))
        labels = {"cflab.app-guid": c.desired.get("log_guid", ""), "cflab.process-guid":
                  c.process_guid, "cflab.instance-guid": c.instance_guid,
                  "cflab.index": str(c.index)}
        extra_hosts = {s.name: self.cfg.cell_container_ip for s in self.cfg.platform_services}
        source, target = self._download(c)
        # The cell fetches the Cloud Controller's bits while Docker creates the container.
        fetch = self.pool.submit(self._fetch, source) if source.startswith("http") else None
        marks: dict[str, float] = {}
        for _attempt in range(3):
            try:
                self._container(c, labels, extra_hosts, source, target, fetch, marks)
                break
            except GardenError as exc:
                if "already in use" not in str(exc):
                    raise
                # Docker holds the address for an endpoint no container owns (a stale
                # endpoint); this rep never offers it again.
                log.warning("container IP %s is held by a stale endpoint; trying another", c.ip)
                if c.cid:
                    self.garden.destroy(c.cid)
                    c.cid = ""
                with self.lock:
                    self.bad_ips.add(c.ip)
                    c.ip = self._allocate_ip()
        else:
            raise StartFailed(f"no usable container IP after 3 attempts (last {c.ip})")
        t = time.monotonic()
        if c.dnat_mappings:
            res = iptables_restore(dnat.restore_input("-A", self.cfg.cell_ip, c.dnat_mappings))
            if res.returncode != 0:
                raise StartFailed(f"iptables-restore: {res.stderr.strip()}")
        marks["dnat"] = time.monotonic() - t
        if self.policy is not None:
            t = time.monotonic()
            rules = self.policy.rules(c.log_guid, c.ip)
            self.install_rules(c.cid, rules)
            self.policy.installed(c.handle, rules)
            marks["firewall"] = time.monotonic() - t
        log.info("instance %s created: %s", c.handle,
                  ", ".join(f"{k} {v:.2f}s" for k, v in marks.items()))

    def isolated_containers(self) -> list[tuple[str, str, str, str]]:
        """(handle, app guid, ip, cid) of the instances whose rules are in place."""
        with self.lock:
            return [(c.handle, c.log_guid, c.ip, c.cid) for c in self.containers.values()
                    if c.cid and c.state in ("starting", "running")]

    def install_rules(self, cid: str, rules: str) -> None:
        """The container's filter table (policy_agent.filter_rules), before its app runs:
        an instance must never run without its isolation."""
        code, out = self.garden.run_in_netns(
            cid, self.cfg.stack_image, ["sh", "-c", 'printf %s "$CFLAB_RULES" | iptables-restore'],
            {"CFLAB_RULES": rules})
        if code != 0:
            raise StartFailed(f"container firewall: {out.decode(errors='replace').strip()}")

    def _container(self, c: Container, labels: dict[str, str], extra_hosts: dict[str, str],
                   source: str, target: str, fetch: Future[bytes] | None,
                   marks: dict[str, float]) -> None:
        """Create the container, copy credentials, proxy config and bits in, start it."""
        t = time.monotonic()
        limits = limits_for(c.desired, proxy_enabled=self.cfg.proxy_enabled,
                            proxy_memory_mb=self.cfg.proxy_memory_mb,
                            max_cpu_shares=self.cfg.max_cpu_shares, max_pids=self.cfg.max_pids)
        # The instance's environment on the container itself: what Garden's container
        # spec env plus the run step's env give every process on a cell, so a `cf ssh`
        # session (docker exec) has it as Diego's sshd passes it on.
        cid = self.garden.create(c.handle, self.cfg.stack_image, c.ip, labels, extra_hosts,
                                 limits, env=self._env(c))
        with self.lock:
            c.cid, stopped = cid, c.cleaned
        if stopped:  # stopped while Docker created it: its cleanup could not see it
            self.garden.destroy(cid)
            raise StartFailed(f"instance {c.handle} was stopped while its container was created")
        marks["create"] = time.monotonic() - t
        t = time.monotonic()
        cred = self._issue(c, c.instance_guid)  # its IP SAN is the address just given
        marks["credential"] = time.monotonic() - t
        t = time.monotonic()
        members = self._bits(c, source, target, fetch.result() if fetch else b"")
        marks["bits"] = time.monotonic() - t
        t = time.monotonic()
        c.serial, c.rotate_at = cred.cert.serial_number, time.monotonic() + self.rotation
        creds = self._cred_files(cred)
        self._keep_copy("instance_identity", c, creds)
        tree = {CRED_DIR: creds}
        if self.cfg.system_certs:
            tree[SYSTEM_CERT_DIR] = {n: (b, 0o644, 0) for n, b in self.cfg.system_certs.items()}
        if self.cfg.ssh_authorized_keys:  # the ssh-proxy's key; the env its sessions get
            tree[SSH_DIR] = {"authorized_keys": (self.cfg.ssh_authorized_keys, 0o644, 0),
                             "instance.env": (json.dumps(self._env(c)).encode(), 0o600,
                                              VCAP_UID)}
        if self.cfg.proxy_enabled:
            files = self._proxy_files(c, cred)
            self._keep_copy("proxy_config", c, files)
            tree[proxy_config.CONFIG_DIR] = files
        self.garden.put_tree(c.cid, tree, members)
        marks["files"] = time.monotonic() - t
        t = time.monotonic()
        self.garden.start(c.cid)
        marks["start"] = time.monotonic() - t

    def _run_processes(self, c: Container) -> dict[str, Future[str]]:
        """The app first, then the proxy and sshd side by side (each a Garden Run); returns
        the sidecars still being started, so the startup checks need not wait for them."""
        run = (c.desired.get("action") or {}).get("run") or {}
        command = [run["path"], *run.get("args", [])] if run.get("path") else [
            LAUNCHER, "/home/vcap/app", "python3 app.py", ""]
        runs = {"app": (command, {"user": run.get("user", "vcap"), "env": self._env(c),
                                  "workdir": "/home/vcap/app"})}
        if self.cfg.proxy_enabled:
            node = f"sidecar~{c.ip}~{c.handle}~x"
            wrapper = (f"trap 'kill -9 0' TERM; {ENVOY} -c {proxy_config.CONFIG_DIR}/envoy.yaml"
                       f" --service-cluster proxy-cluster --service-node {node}"
                       " --drain-time-s 900 --log-level critical& pid=$!; wait $pid")
            runs["envoy"] = (["sh", "-c", wrapper], {})
        if 2222 in [m.container_port for m in c.mappings]:
            sshd = ["/usr/sbin/sshd", "-D", "-p", "2222"]
            if self.cfg.ssh_authorized_keys:  # Diego's sshd: -authorizedKey from the LRP
                sshd += ["-o", f"AuthorizedKeysFile={SSH_DIR}/authorized_keys"]
            runs["sshd"] = (sshd, {})
        cmd, kw = runs.pop("app")
        if c.log_guid:
            kw["output"] = lambda stream, line: self.reporter.log(
                c.log_guid, c.index, "APP/PROC/WEB", line, stream)
        c.processes["app"] = self.garden.run(c.cid, cmd, **kw)
        return {name: self.pool.submit(self.garden.run, c.cid, cmd, **kw)
                for name, (cmd, kw) in runs.items()}

    @staticmethod
    def _download(c: Container) -> tuple[str, str]:
        setup = (c.desired.get("setup") or {}).get("download") or {}
        return setup.get("from", ""), setup.get("to", "/home/vcap/app")

    @staticmethod
    def _fetch(source: str) -> bytes:
        try:
            with urllib.request.urlopen(source, timeout=60) as resp:
                return resp.read()
        except (urllib.error.URLError, OSError) as exc:
            raise StartFailed(f"downloading the app bits from {source} failed: {exc}") from None

    def _bits(self, c: Container, source: str, target: str, archive: bytes) -> list[bits.Member]:
        """The setup action, a `download` of the app bits into `target`, as tar members.

        `http(s)://` sources (the Cloud Controller's bits) are fetched by the cell,
        which alone is on the foundation network; `file://` sources are folders the
        stack image holds, read from the created container. Both are copied in with
        the credentials, owned by vcap, before any process starts.
        """
        if not source:
            return []
        strip_top = False
        if source.startswith("file://"):
            archive = self.garden.image_folder(c.cid, self.cfg.stack_image, source[7:])
            strip_top = True
        elif not source.startswith(("http://", "https://")):
            raise StartFailed(f"setup.download.from: unsupported source {source!r}")
        try:
            return bits.retarget(archive, target, VCAP_UID, strip_top=strip_top)
        except bits.BitsError as exc:
            raise StartFailed(f"placing the app bits failed: {exc}") from None

    def _env(self, c: Container) -> dict[str, str]:
        extra = {e["name"]: e["value"] for e in c.desired.get("env") or []}
        run = (c.desired.get("action") or {}).get("run") or {}
        extra.update({e["name"]: e["value"] for e in run.get("env") or []})
        return InstanceEnv(c.instance_guid, c.index, self.cfg.cell_ip, c.ip, c.mappings,
                           extra).render()

    def _health_cmd(self, c: Container, *flags: str) -> list[str]:
        port = c.mappings[0].container_port if c.mappings else 8080
        return [HEALTHCHECK, f"-port={port}", "-timeout=1000ms", *flags]

    def _await_healthy(self, c: Container, sidecars: dict[str, Future[str]]) -> None:
        """The app's startup check and, as Diego does, one per TLS proxy port, all at once,
        while the sidecars are still being started (the checks retry until they listen)."""
        if not c.mappings:
            for name, fut in sidecars.items():
                c.processes[name] = fut.result()
            return
        startup = (f"-startup-interval={self.cfg.startup_interval:g}s",
                   f"-startup-timeout={self.cfg.startup_timeout:g}s")
        checks = {"app": self._health_cmd(c, *startup)}
        if self.cfg.proxy_enabled:
            for m in c.mappings:
                checks[f"proxy:{m.container_tls_proxy_port}"] = [
                    HEALTHCHECK, f"-port={m.container_tls_proxy_port}", "-timeout=1000ms", *startup]
        # Own threads, not the pool: a startup check may block for start_timeout.
        t0 = time.monotonic()
        results: dict[str, tuple[int, bytes]] = {}
        took: dict[str, float] = {}

        def check(name: str, cmd: list[str]) -> None:
            results[name] = self.garden.run_sync(c.cid, cmd)
            took[name] = time.monotonic() - t0

        threads = [threading.Thread(target=check, args=item) for item in checks.items()]
        for t in threads:
            t.start()
        for name, fut in sidecars.items():  # a sidecar that cannot start fails the instance now
            c.processes[name] = fut.result()
        for t in threads:
            t.join()
        log.info("instance %s startup checks done after %s", c.handle,
                 ", ".join(f"{k} {v:.2f}s" for k, v in took.items()))
        code, out = results.get("app", (-1, b"no result"))
        if code != 0:
            raise StartFailed(
                f"Instance never healthy after {self.cfg.startup_timeout:g}s: "
                f"{out.decode(errors='replace').strip()}")
        for name, (code, out) in results.items():
            if name != "app" and code != 0:
                raise StartFailed(f"instance proxy failed to start ({name}): "
                                  f"{out.decode(errors='replace').strip()}")
        # Liveness starts beside the RUNNING report rather than before it.
        liveness = self.pool.submit(self.garden.run, c.cid, self._health_cmd(
            c, f"-liveness-interval={self.cfg.liveness_interval:g}s"))
        liveness.add_done_callback(lambda f: f.exception() or c.processes.__setitem__(
            "liveness", f.result()))

    # -- running ---------------------------------------------------------------

    def tick(self, crash_checks: bool = True) -> None:
        """Rotation for every running instance, and with `crash_checks` a crash check of
        each (the sweep the rep falls back to while Docker's event stream is down)."""
        now = time.monotonic()
        with self.lock:
            running = [c for c in self.containers.values() if c.state == "running"]
        for c in running:
            if crash_checks and self._check_crash(c):
                continue
            if now >= c.rotate_at:
                try:
                    self.rotate(c)
                except (GardenError, OSError) as exc:
                    log.warning("rotation of %s failed: %s", c.handle, exc)

    def on_exit(self, handle: str, exec_id: str) -> None:
        """A Docker event that may have ended an instance (`crash_watch.concerned_exit`):
        checked now if it runs, kept for its RUNNING transition if it is starting."""
        with self.lock:
            c = self.containers.get(handle)
            if c is not None and c.state == "starting":
                c.early_exits.add(exec_id)
                return
        self.check_crash(handle)

    def check_crash(self, handle: str) -> None:
        """One running instance's crash check."""
        with self.lock:
            c = self.containers.get(handle)
        if c is not None and c.state == "running":
            self._check_crash(c)

    def sweep_crashes(self) -> None:
        """A crash check of every running instance, without rotating any."""
        for handle in self.known():
            self.check_crash(handle)

    def _check_crash(self, c: Container) -> bool:
        reason = self._crash_reason(c)
        if reason:
            self._crash(c, reason)
        return bool(reason)

    def _crash_reason(self, c: Container) -> str | None:
        if not self.garden.container_running(c.cid):
            return "container exited"
        for name in WATCHED_PROCESSES:
            exec_id = c.processes.get(name)
            if not exec_id:
                continue
            running, code = self.garden.exec_state(exec_id)
            if not running:
                if name == "liveness":
                    return f"Instance became unhealthy: healthcheck exited {code}"
                if name == "app":
                    c.exit_status = code
                    return exit_description("APP/PROC/WEB", code, bool(code) and
                                            self.garden.out_of_memory(c.cid))
                return f"instance proxy exited with status {code}"
        return None

    def rotate(self, c: Container) -> None:
        cred = self._issue(c, c.instance_guid)
        if self.cfg.proxy_enabled:
            files = self._certificate_files(c, cred)
            self._keep_copy("proxy_config", c, files)
            self.garden.replace_files(c.cid, proxy_config.CONFIG_DIR, files)
        creds = self._cred_files(cred)
        self._keep_copy("instance_identity", c, creds)
        self.garden.replace_files(c.cid, CRED_DIR, creds)
        old, c.serial = c.serial, cred.cert.serial_number
        c.rotate_at = time.monotonic() + self.rotation
        log.info("rotated credential of %s: serial %x -> %x", c.handle, old, c.serial)

    # -- stop ------------------------------------------------------------------

    def stop(self, handle: str, report: bool = True) -> None:
        with self.lock:
            c = self.containers.get(handle)
            if c is None or c.state == "stopping":
                return
            was_running, c.state = c.state == "running", "stopping"
        threading.Thread(target=self._stop, args=(c, was_running, report), daemon=True).start()

    def _stop(self, c: Container, was_running: bool, report: bool) -> None:
        self._cell_log(c, f"Cell {self.cfg.cell_id} stopping instance {c.instance_guid}")
        if was_running and self.cfg.proxy_enabled:
            try:  # CF's stop sequence: invalid certificate, reload delay, then stop
                invalid = self._issue(c, "")
                files = self._certificate_files(c, invalid)
                self.garden.replace_files(c.cid, proxy_config.CONFIG_DIR, files)
                time.sleep(self.cfg.reload_duration)
            except (GardenError, OSError) as exc:
                log.warning("could not swap the proxy certificate of %s: %s", c.handle, exc)
        self._cleanup(c)
        if report:
            try:
                self.bbs.lifecycle("remove", process_guid=c.process_guid, index=c.index,
                                   instance_guid=c.instance_guid, cell_id=self.cfg.cell_id)
            except BBSError as exc:
                log.info("remove of %s: %s", c.handle, exc)

    def _crash(self, c: Container, reason: str) -> None:
        with self.lock:
            if c.state == "stopping":
                return
            c.state = "stopping"
        log.warning("instance %s of %s/%d crashed: %s", c.handle, c.process_guid, c.index, reason)
        if c.exit_status is not None:  # the run step's own line, on the app's stream
            self.reporter.log(c.log_guid, c.index, "APP/PROC/WEB",
                              reason.replace("APP/PROC/WEB: Exited with status", "Exit status"))
        elif reason.startswith("Instance became unhealthy"):
            self._cell_log(c, "Container became unhealthy", "ERR")
        self._cleanup(c)
        try:
            lrp = self.bbs.lifecycle("crash", process_guid=c.process_guid, index=c.index,
                                     instance_guid=c.instance_guid, cell_id=self.cfg.cell_id,
                                     crash_reason=reason)
        except BBSError as exc:
            log.info("crash report of %s: %s", c.handle, exc)
            lrp = None
        # tps-watcher's report of the BBS's crash event, for the CC's app.crash
        self.reporter.crashed(c.process_guid, {
            "instance": c.instance_guid, "index": c.index, "cell_id": self.cfg.cell_id,
            "reason": "CRASHED", "exit_description": reason,
            "crash_count": int((lrp or {}).get("crash_count") or 0),
            "crash_timestamp": time.time_ns(),
            **({"exit_status": c.exit_status} if c.exit_status is not None else {})})

    def _cleanup(self, c: Container) -> None:
        """Container, DNAT rules, host ports, files: nothing of the instance may remain."""
        with self.lock:
            cid, c.cleaned = c.cid, True
        # The host ports' DNAT first: once the container is gone, none of its rules may be
        # left (CI saw the rules outlive the container for a moment on a loaded machine).
        if c.dnat_mappings and iptables_restore(dnat.restore_input(
                "-D", self.cfg.cell_ip, c.dnat_mappings)).returncode != 0:
            # One rule already gone fails the whole transaction: delete them one by one.
            for cmd in dnat.delete_commands(self.cfg.cell_ip, c.dnat_mappings):
                iptables(cmd)
        if cid:
            self._cell_log(c, f"Cell {self.cfg.cell_id} destroying container for instance "
                              f"{c.instance_guid}")
            self.garden.destroy(cid)
            self._cell_log(c, f"Cell {self.cfg.cell_id} successfully destroyed container for "
                              f"instance {c.instance_guid}")
        with self.lock:
            self.ports.release_owner(c.handle)
            self.containers.pop(c.handle, None)
        for kind in ("instance_identity", "proxy_config"):
            d = self.cfg.state_dir / kind / c.handle
            if d.is_dir():
                for f in d.iterdir():
                    f.unlink()
                d.rmdir()

    # -- metrics ---------------------------------------------------------------

    def report_metrics(self) -> None:
        """Container metrics of every running instance from its cgroup, as the rep
        emits them every `container_metrics_report_interval`: cpu (percent of one core
        since the last read), memory and disk (bytes), and the quotas. All are read in
        one batch from the cell's side (`Garden.batch_metrics`); an instance the batch
        missed is asked of Docker alone."""
        with self.lock:
            running = [c for c in self.containers.values() if c.state == "running" and c.log_guid]
        if not running:
            return
        now = time.monotonic_ns()
        disk = any(now - c.disk_sample[1] >= DISK_REFRESH_NS for c in running)
        batch = self.garden.batch_metrics([c.cid for c in running], self.cfg.stack_image, disk)
        for c in running:
            refresh_disk = now - c.disk_sample[1] >= DISK_REFRESH_NS
            m = batch.get(c.cid)
            if m is None:
                try:
                    m = self.garden.metrics(c.cid, disk=refresh_disk)
                except GardenError as exc:
                    log.debug("metrics of %s: %s", c.handle, exc)
                    continue
            elif disk:
                refresh_disk = True  # the batch read every instance's size
            if refresh_disk:
                c.disk_sample = (m["disk_bytes"], now)
            last_cpu, last_wall = c.cpu_sample
            cpu = 100.0 * (m["cpu_ns"] - last_cpu) / (now - last_wall) \
                if last_wall and now > last_wall and m["cpu_ns"] >= last_cpu else 0.0
            c.cpu_sample = (m["cpu_ns"], now)
            mem_quota = int(c.desired.get("memory_mb") or 0) * 1024 * 1024
            disk_quota = int(c.desired.get("disk_mb") or 0) * 1024 * 1024
            self.reporter.envelope(gauge_envelope(c.log_guid, c.index, {
                "cpu": (round(cpu, 4), "percentage"),
                "memory": (float(m["memory_bytes"]), "bytes"),
                "disk": (float(c.disk_sample[0]), "bytes"),
                "memory_quota": (float(mem_quota), "bytes"),
                "disk_quota": (float(disk_quota), "bytes")}, c.instance_guid))

    def metrics_loop(self, stopping: threading.Event) -> None:
        while not stopping.wait(self.cfg.metrics_interval):
            try:
                self.report_metrics()
            except Exception:  # noqa: BLE001 - metrics must never take the cell down
                log.exception("container metrics failed")

    def sync(self, held: list[dict[str, Any]]) -> list[str]:
        """The rep's bulk sync (rep ``generator.BatchOperations``): stop every instance
        whose actual LRP this cell no longer holds (``held``: the BBS's actual LRPs by
        this cell id), and destroy containers this rep made but no longer tracks.
        Returns the handles it stopped or destroyed."""
        with self.lock:
            known = dict(self.containers)
        gone = residual_instances(known, held)
        for handle in gone:
            log.warning("instance %s is not held by this cell in the BBS: stopping it", handle)
            self.stop(handle)  # its report ends a stop request the BBS may hold for it
        try:
            made = self.garden.list_handles()
        except (GardenError, OSError) as exc:
            log.warning("listing this cell's containers failed: %s", exc)
            return gone
        with self.lock:
            orphans = {h: cid for h, cid in made.items() if h not in self.containers}
        for handle, cid in orphans.items():
            log.warning("destroying container %s that no instance of this rep tracks", handle)
            self.garden.destroy(cid)
        return gone + sorted(orphans)

    def known(self) -> dict[str, Container]:
        with self.lock:
            return dict(self.containers)

    def rotations_due(self) -> list[float]:
        """When each running instance's credential is to be rotated (monotonic)."""
        with self.lock:
            return [c.rotate_at for c in self.containers.values() if c.state == "running"]
