"""The proxy process: load config, run listeners and the admin API, reload, drain.

Reload model: envoy.yaml, the LDS file and every referenced SDS file are
polled (inode/mtime/size) because the executor replaces them by rename. Each
changed file is one update attempt: it is parsed, the TLS contexts it affects
are built and new sockets bound *before* anything is swapped, so a bad file is
rejected (logged + ``*.update_rejected``) and the last good config stays.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from . import lean
from .config import load_yaml, parse_bootstrap, parse_lds, parse_sds
from .model import Bootstrap, ConfigError, Listener, ResolvedTls, SocketAddress
from .proxy import Acceptor, ClusterState, ListenerState, ProxyRuntime
from .resolve import SecretStore, resolve_tls, sds_paths
from .stats import Stats
from .tlsctx import build_server_context
from .watch import FileWatcher

log = logging.getLogger("envoy.main")
VERSION = "cflab-envoy/0.1.0/Clean/RELEASE/OpenSSL"
# With inotify, how often the proxy still looks at its files itself (a lost notice).
SAFETY_POLL_INTERVAL = 10.0


@dataclass
class Options:
    config_path: str
    service_cluster: str = ""
    service_node: str = ""
    drain_time_s: float = 600.0
    poll_interval: float = 0.3  # without inotify; with it, SAFETY_POLL_INTERVAL
    notify: bool = True  # learn of replaced files from inotify where it works
    argv: dict[str, Any] = field(default_factory=dict)
    lean: bool = False  # drop config-loading modules between reloads (see lean.py)


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _bind(addr: SocketAddress) -> socket.socket:
    family = socket.AF_INET6 if ":" in addr.address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((addr.address, addr.port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def require_sds_files(boot: Bootstrap) -> None:
    """Envoy will not start (nor validate) a bootstrap naming an SDS file that is missing."""
    for path in sds_paths(boot.listeners):
        if not os.path.exists(path):
            raise ConfigError("sds_config", "paths must refer to an existing path in the"
                                            f" system: '{path}' does not exist")


class Runtime:
    """Owns config state, listeners and the admin server; implements admin.AdminBackend."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.stats = Stats()
        self.proxy = ProxyRuntime(self.stats)
        self.started = time.monotonic()
        self.draining = False
        self.done = asyncio.Event()
        self.bootstrap: Bootstrap | None = None
        self.lds_listeners: tuple[Listener, ...] = ()
        self.lds_raw: dict = {}
        self.secret_files: SecretStore = {}
        self.secret_raw: dict[str, list] = {}
        self.active: dict[str, ListenerState] = {}
        self.resolved: dict[str, ResolvedTls] = {}
        self.contexts: dict[ResolvedTls, ssl.SSLContext] = {}
        self.warming: set[str] = set()
        self.watcher = FileWatcher(notify=self.opts.notify)
        self._notice_fd: int | None = None
        self.admin_server: asyncio.AbstractServer | None = None
        self.stats.gauge("server.live").value = 1
        self.stats.gauge("server.state").value = 0
        self.stats.gauge("server.concurrency").value = 1

    # -- config loading ----------------------------------------------------
    def _load_bootstrap(self) -> Bootstrap:
        doc = self._load_yaml(_read(self.opts.config_path))
        boot, warnings = parse_bootstrap(doc, _read)
        self._warn(self.opts.config_path, warnings)
        return boot

    def _load_lds(self, path: str) -> tuple[tuple[Listener, ...], dict]:
        doc = self._load_yaml(_read(path))
        listeners, warnings = parse_lds(doc, _read)
        self._warn(path, warnings)
        return listeners, doc

    def _load_yaml(self, text: bytes) -> Any:
        # The real process parses in a forked child so PyYAML never becomes resident.
        return lean.load_yaml(text) if self.opts.lean else load_yaml(text, "")

    def _warn(self, path: str, warnings: list[str]) -> None:
        """Envoy warns about (and counts) fields it does not know, then applies the rest."""
        for w in warnings:
            log.warning("Unknown field: %s: %s", path, w)
        if warnings:
            self.stats.inc("server.config_unsupported_fields", len(warnings))
            kind = "static" if path == self.opts.config_path else "dynamic"
            self.stats.inc(f"server.{kind}_unknown_fields", len(warnings))

    def _desired(self) -> tuple[Listener, ...]:
        assert self.bootstrap is not None
        return self.bootstrap.listeners + self.lds_listeners

    def _load_sds_file(self, path: str, names: set[str]) -> bool:
        """Parse one SDS file into a candidate store; True when it was accepted.

        As Envoy's filesystem subscription: a file that cannot be read or parsed is an
        `update_failure`, one whose content does not apply is `update_rejected`; either
        way the last good secret stays in use.
        """
        try:
            doc = self._load_yaml(_read(path))
        except (ConfigError, OSError) as exc:
            for name in sorted(names) or ["unknown"]:
                self.stats.inc(f"sds.{name}.update_failure")
            log.warning("Filesystem config update failure: in %s, %s", path, exc)
            return False
        try:
            secrets, warnings = parse_sds(doc, _read)
            self._warn(path, warnings)
            store = dict(self.secret_files)
            store[path] = secrets
            self._reconcile(self._desired(), store)
        except (ConfigError, OSError) as exc:
            for name in sorted(names) or ["unknown"]:
                self.stats.inc(f"sds.{name}.update_rejected")
            log.warning("Filesystem config update rejected: %s: %s", path, exc)
            return False
        self.secret_files[path] = secrets
        self.secret_raw[path] = doc.get("resources", []) if isinstance(doc, dict) else []
        for name in sorted(names):
            if name in secrets:
                self.stats.inc(f"sds.{name}.update_success")
            else:
                self.stats.inc(f"sds.{name}.update_rejected")
                log.error("SDS file %s has no secret %r", path, name)
        return True

    def _apply_lds(self, path: str) -> None:
        self.stats.inc("listener_manager.lds.update_attempt")
        try:
            listeners, doc = self._load_lds(path)
            assert self.bootstrap is not None
            self._ensure_sds(listeners)
            self._reconcile(self.bootstrap.listeners + listeners, self.secret_files)
        except (ConfigError, OSError) as exc:
            self.stats.inc("listener_manager.lds.update_rejected")
            log.error("LDS file %s rejected: %s", path, exc)
            return
        self.lds_listeners, self.lds_raw = listeners, doc
        self.stats.inc("listener_manager.lds.update_success")

    def _ensure_sds(self, listeners: tuple[Listener, ...]) -> None:
        for path, names in sds_paths(listeners).items():
            if path not in self.secret_files:
                self.watcher.track(path)
                self._load_sds_file(path, names)

    def _apply_bootstrap(self) -> None:
        try:
            boot = self._load_bootstrap()
            self._ensure_sds(boot.listeners)
            old = self.bootstrap
            self.bootstrap = boot
            try:
                self._reconcile(self._desired(), self.secret_files)
            except ConfigError:
                self.bootstrap = old
                raise
        except (ConfigError, OSError) as exc:
            self.stats.inc("bootstrap.update_rejected")
            log.error("bootstrap %s rejected: %s", self.opts.config_path, exc)
            return
        self.stats.inc("bootstrap.update_success")
        if old and old.admin != boot.admin:
            log.warning("admin address changes need a restart")
        if boot.lds and (old is None or old.lds != boot.lds):
            self.watcher.track(boot.lds.path)
            self._apply_lds(boot.lds.path)

    # -- reconcile ---------------------------------------------------------
    def _reconcile(self, desired: tuple[Listener, ...], store: SecretStore) -> None:
        """Validate then apply a listener set; raises ConfigError before any change."""
        assert self.bootstrap is not None
        names = [li.name for li in desired]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ConfigError("listeners", f"duplicate listener names {sorted(dupes)}")
        resolved: dict[str, ResolvedTls] = {}
        warming: set[str] = set()
        contexts: dict[ResolvedTls, ssl.SSLContext] = {}
        for i, li in enumerate(desired):
            if li.tls is None:
                continue
            path = f"listeners[{i}]({li.name}).tls"
            try:
                res = resolve_tls(li.tls, store, path)
            except ConfigError as exc:
                warming.add(li.name)
                log.warning("listener %s is warming: %s", li.name, exc)
                continue
            resolved[li.name] = res
            if res not in contexts:
                contexts[res] = self.contexts.get(res) or build_server_context(res, path)
        # Bind new sockets before touching anything, so a bind failure rejects cleanly.
        wanted = {li.name: li for li in desired if li.name not in warming}
        to_remove = [n for n, ls in self.active.items()
                     if n not in wanted or wanted[n].address != ls.config.address]
        to_add = [li for li in wanted.values()
                  if li.name not in self.active or li.name in to_remove]
        freed = {self.active[n].config.address for n in to_remove}
        sockets: dict[str, socket.socket] = {}
        try:
            for li in to_add:
                if li.address in freed:
                    continue  # bound after the old listener closes
                sockets[li.name] = _bind(li.address)
        except OSError as exc:
            for s in sockets.values():
                s.close()
            raise ConfigError(f"listener {li.name}", f"cannot bind {li.address}: {exc}") from None
        self._commit(desired, store, resolved, contexts, warming, to_remove, to_add, sockets)

    def _commit(self, desired, store, resolved, contexts, warming, to_remove, to_add,
                sockets) -> None:  # noqa: ANN001 - internal, called only by _reconcile
        assert self.bootstrap is not None
        for name, cfg in self.bootstrap.clusters.items():
            cs = self.proxy.clusters.get(name)
            if cs is None:
                self.proxy.clusters[name] = ClusterState(cfg, self.stats)
            else:
                cs.config = cfg
        for name in list(self.proxy.clusters):
            if name not in self.bootstrap.clusters:
                del self.proxy.clusters[name]
        for name in to_remove:
            ls = self.active.pop(name)
            if ls.server is not None:
                ls.server.close()
            self.stats.inc("listener_manager.listener_removed")
            log.info("listener %s removed", name)
        loop = asyncio.get_running_loop()
        for li in desired:
            if li.name in warming:
                continue
            ls = self.active.get(li.name)
            new_ctx = contexts.get(resolved.get(li.name))  # type: ignore[arg-type]
            res = resolved.get(li.name)
            matchers = res.validation.san_matchers if res and res.validation else ()
            if ls is None:
                ls = ListenerState(li, self.stats, self.proxy)
                ls.ssl_context, ls.san_matchers = new_ctx, matchers
                sock = sockets.get(li.name) or _bind(li.address)
                ls.server = Acceptor(loop, ls, sock)
                self.active[li.name] = ls
                self.stats.inc("listener_manager.listener_added")
                log.info("listener %s on %s", li.name, li.address)
                continue
            if li != ls.config:
                ls.apply(li)
                self.stats.inc("listener_manager.listener_modified")
            if ls.ssl_context is not new_ctx:
                ls.ssl_context, ls.san_matchers = new_ctx, matchers
                ls.ssl_ctx_updates.value += 1
                log.info("listener %s: new TLS context", li.name)
        self.resolved = resolved
        self.contexts = contexts
        self.warming = warming
        self.stats.gauge("listener_manager.total_listeners_active").value = len(self.active)
        self.stats.gauge("listener_manager.total_listeners_warming").value = len(warming)
        if self.draining:
            for ls in self.active.values():
                if ls.server is not None:
                    ls.server.close()

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        self.bootstrap = self._load_bootstrap()
        require_sds_files(self.bootstrap)
        self.watcher.track(self.opts.config_path)
        for path, secrets in [(None, self.bootstrap.secrets)]:
            self.secret_files[path] = secrets
        self._ensure_sds(self.bootstrap.listeners)
        self._reconcile(self._desired(), self.secret_files)
        if self.bootstrap.lds:
            self.watcher.track(self.bootstrap.lds.path)
            self._apply_lds(self.bootstrap.lds.path)
        self._release()
        if self.bootstrap.admin:
            a = self.bootstrap.admin
            self.admin_server = await asyncio.start_server(self._admin_conn, a.address, a.port,
                                                           reuse_address=True)
            log.info("admin on %s", a)

    def _release(self) -> None:
        if self.opts.lean:
            lean.release()
        else:
            trim_heap()

    def poll(self) -> None:
        """One watch tick: apply every file that was replaced since the last tick."""
        changed = self.watcher.changed()
        if not changed:
            return
        assert self.bootstrap is not None
        if self.opts.config_path in changed:
            self._apply_bootstrap()
        wanted = sds_paths(self._desired())
        for path in changed:
            if path in wanted:
                self._load_sds_file(path, wanted[path])
        lds = self.bootstrap.lds
        if lds and lds.path in changed:
            self._apply_lds(lds.path)
        self._release()

    async def run(self) -> int:
        await self.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        self._follow_notices(loop)
        while not self.done.is_set():
            # With inotify a change wakes the proxy at once; the timed look is a safety net.
            interval = (self.opts.poll_interval if self._notice_fd is None
                        else max(self.opts.poll_interval, SAFETY_POLL_INTERVAL))
            try:
                await asyncio.wait_for(self.done.wait(), interval)
            except TimeoutError:
                pass
            if not self.done.is_set():
                self._tick(loop)
        if self._notice_fd is not None:
            loop.remove_reader(self._notice_fd)
        self.watcher.close()
        if self.admin_server is not None:
            self.admin_server.close()
        for conn in list(self.proxy.connections):
            conn.abort()
        return 0

    def _follow_notices(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read the watcher's inotify descriptor from the event loop, if it has one."""
        fd = self.watcher.fileno()
        if fd == self._notice_fd:
            return
        if self._notice_fd is not None:
            loop.remove_reader(self._notice_fd)
        self._notice_fd = fd
        if fd is not None:
            loop.add_reader(fd, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            self.poll()
        except Exception:  # noqa: BLE001 - keep serving whatever happens
            log.exception("reload failed")
        self._follow_notices(loop)  # a directory it could not watch ends the notices

    def _on_signal(self, sig: int) -> None:
        log.info("signal %s: draining for up to %ss", sig, self.opts.drain_time_s)
        self.drain_listeners()
        asyncio.ensure_future(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        if self.proxy.connections:
            try:
                await asyncio.wait_for(self.proxy.idle.wait(), self.opts.drain_time_s)
            except TimeoutError:
                log.info("drain time over with %d connections open", len(self.proxy.connections))
        self.done.set()

    # -- admin backend -----------------------------------------------------
    def drain_listeners(self) -> None:
        self.draining = True
        self.stats.gauge("server.state").value = 1
        self.stats.gauge("listener_manager.total_listeners_draining").value = len(self.active)
        for ls in self.active.values():
            if ls.server is not None:
                ls.server.close()

    def quit(self) -> None:
        self.done.set()

    def server_info(self) -> dict:
        up = f"{int(time.monotonic() - self.started)}s"
        node = {"id": self.opts.service_node or (self.bootstrap.node_id if self.bootstrap else ""),
                "cluster": self.opts.service_cluster
                or (self.bootstrap.node_cluster if self.bootstrap else "")}
        return {"version": VERSION, "state": "DRAINING" if self.draining else "LIVE",
                "hot_restart_version": "disabled", "hot_restart_initializing": False,
                "command_line_options": self.opts.argv, "node": node,
                "uptime_current_epoch": up, "uptime_all_epochs": up}

    def stats_rows(self) -> list[tuple[str, int, str]]:
        self.stats.gauge("server.uptime").value = int(time.monotonic() - self.started)
        return self.stats.items()

    def cluster_views(self) -> list:
        return [(cs.config, cs.hosts) for cs in self.proxy.clusters.values()]

    def active_listeners(self) -> list[Listener]:
        return [ls.config for ls in self.active.values()]

    def tls_contexts(self) -> list[ResolvedTls]:
        seen: list[ResolvedTls] = []
        for name in self.active:
            res = self.resolved.get(name)
            if res is not None and res not in seen:
                seen.append(res)
        return seen

    def config_dump(self) -> dict:
        boot = self.bootstrap
        static = [li.raw for li in (boot.listeners if boot else ())]
        dynamic = [{"name": li.name, "active_state": {
            "version_info": str(self.lds_raw.get("version_info", "")), "listener": li.raw}}
            for li in self.lds_listeners]
        secrets = [{"name": r.get("name"), "secret": r}
                   for res in self.secret_raw.values() for r in res if isinstance(r, dict)]
        return {"configs": [
            {"@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
             "bootstrap": boot.raw if boot else {}},
            {"@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
             "static_listeners": [{"listener": raw} for raw in static],
             "dynamic_listeners": dynamic},
            {"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump",
             "dynamic_active_secrets": secrets},
        ]}

    # -- admin HTTP --------------------------------------------------------
    async def _admin_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from . import admin  # noqa: PLC0415 - loaded on the first admin request, not at start

        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split()
            if len(parts) != 3:
                resp = admin.Response(400, "bad request\n")
            else:
                resp = admin.handle(self, parts[0].upper(), parts[1])
            body = resp.body.encode()
            reason = {200: "OK", 400: "Bad Request", 404: "Not Found",
                      405: "Method Not Allowed", 503: "Service Unavailable"}.get(resp.status, "")
            writer.write(
                f"HTTP/1.1 {resp.status} {reason}\r\ncontent-type: {resp.content_type}\r\n"
                f"content-length: {len(body)}\r\nserver: envoy\r\nconnection: close\r\n\r\n"
                .encode() + body)
            await writer.drain()
            if resp.after:
                resp.after()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError):
            pass
        finally:
            writer.close()


trim_heap = lean.trim_heap
