"""The dashboard's I/O: each collector asks one job (or reads one log) and hands the
hub its view. Everything it shows comes from here:

- jobs: each job's own health endpoint (`/health`, `/ping`, `/healthz`...), every second;
- cells and app containers: the BBS (`/v1/cells`, actual and desired LRPs), woken by
  its event long-poll;
- routes: NATS `router.register`/`router.unregister` applied by the router's own
  registry code (the router's `/routes` listens on its loopback only, as gorouter's);
- requests: the router's access log (a volume the router writes and we read);
- identities: the certificate each instance's proxy presents on its host TLS port
  (while no one watches, only an instance's first and each one its cell rotates).

While no page is open, the per-second work waits (`Hub.watched`): route rows are not
rebuilt, the CC is read at the idle interval, certificates only when due.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import ssl
import time
from base64 import b64encode
from urllib.parse import urlsplit

from foundry.bbs.client import client_tls
from foundry.dashboard import views
from foundry.dashboard.accesslog import (
    ERROR,
    MISROUTED,
    AccessLogError,
    PortHistory,
    Traffic,
    classify,
    parse_line,
)
from foundry.dashboard.certs import CertificateError, Identity, next_rotation, parse_der
from foundry.dashboard.cloud_controller import CCReader
from foundry.dashboard.config import DashboardConfig, JobProbe
from foundry.dashboard.hub import Hub
from foundry.gorouter.registry import InvalidRegistryMessage, Registry

log = logging.getLogger("dashboard")
SAMPLE_PER_TICK = 25  # request rows pushed per access-log read (misroutes and errors first)
BODY_LIMIT = 16 * 1024 * 1024


async def http_get(host: str, port: int, path: str, *, auth: str = "",
                   timeout: float = 2.0, tls: ssl.SSLContext | None = None
                   ) -> tuple[int, bytes]:
    """A one-shot HTTP/1.0 GET: (status, body). Raises OSError/TimeoutError/ValueError."""
    headers = {"Authorization": f"Basic {b64encode(auth.encode()).decode()}"} if auth else {}
    return await http_request(host, port, "GET", path, headers, b"", timeout=timeout, tls=tls)


async def http_request(host: str, port: int, method: str, path: str,
                       headers: dict[str, str], body: bytes, *, timeout: float = 2.0,
                       tls: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    """One HTTP/1.0 exchange on a fresh connection (the dashboard keeps none open)."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(
            host, port, ssl=tls, server_hostname=host if tls else None)
        try:
            head = f"{method} {path} HTTP/1.0\r\nHost: {host}:{port}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            if body:
                head += f"Content-Length: {len(body)}\r\n"
            writer.write((head + "\r\n").encode() + body)
            raw = await reader.read(BODY_LIMIT)
            while chunk := await reader.read(BODY_LIMIT):
                raw += chunk
        finally:
            writer.close()
    status_line, _, rest = raw.partition(b"\r\n")
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise ValueError(f"not an HTTP response from {host}:{port}{path}")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return int(parts[1]), payload


async def probe(job: JobProbe, timeout: float) -> dict:
    scheme, host, port, path = job.target
    try:
        if scheme == "tcp":
            async with asyncio.timeout(timeout):
                _, writer = await asyncio.open_connection(host, port)
            writer.close()
            return {"health": "healthy", "detail": f"tcp {host}:{port} open"}
        status, _ = await http_get(host, port, path, auth=job.auth, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as e:
        return {"health": "down", "detail": f"{job.url}: {type(e).__name__} {e}".strip()}
    if status == 200:
        return {"health": "healthy", "detail": f"{path} 200"}
    return {"health": "unhealthy", "detail": f"{path} {status}"}


class Collectors:
    def __init__(self, cfg: DashboardConfig, hub: Hub) -> None:
        self.cfg = cfg
        self.hub = hub
        self.registry = Registry(clock=time.time,
                                 droplet_stale_threshold=cfg.droplet_stale_threshold)
        self.routes_dirty = False
        self.names: dict[str, str] = {}  # app guid → name
        self.cc_names: dict[str, str] = {}  # app guid → name, as the CC has it
        self.ports = PortHistory()
        self.apps: dict[str, tuple[str, str]] = {}  # process guid → (app guid, name)
        self.tls_targets: dict[str, str] = {}
        self.identities: dict[str, Identity] = {}
        self.traffic = Traffic()
        self.tls = ssl.create_default_context()
        self.tls.check_hostname = False
        self.tls.verify_mode = ssl.CERT_NONE  # we only read the presented cert, never trust it
        self.bbs_tls = client_tls(cfg.bbs_ca_cert_file, cfg.bbs_client_cert_file,
                                  cfg.bbs_client_key_file) \
            if urlsplit(cfg.bbs_address).scheme == "https" else None

    def _foundation(self, **fields) -> None:
        self.hub.update("foundation", {"foundation": {
            **self.hub.state.sections["foundation"].get("foundation", {}), **fields}})

    def start(self) -> list[asyncio.Task]:
        self._foundation(project=self.cfg.project, mode=self.cfg.mode,
                         cells=len(self.cfg.cells), nats="connecting", started_at=time.time())
        loops = (self.jobs_loop, self.bbs_loop, self.nats_loop, self.routes_loop,
                 self.access_log_loop, self.identity_loop) + (
                     (self.cc_loop,) if self.cfg.cc_url else ())
        return [asyncio.create_task(self._forever(f), name=f.__name__) for f in loops]

    async def _forever(self, loop) -> None:
        """A collector that fails is logged and started again: one job down never stops
        the page."""
        while True:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("collector %s failed; restarting it", loop.__name__)
                await asyncio.sleep(1)

    # -- jobs ----------------------------------------------------------------
    async def jobs_loop(self) -> None:
        while True:
            started = time.monotonic()
            results = await asyncio.gather(*(probe(j, self.cfg.poll_interval * 0.8)
                                             for j in self.cfg.jobs))
            self.hub.replace("jobs", {j.name: r for j, r in zip(self.cfg.jobs, results,
                                                                 strict=True)})
            await self.next_round(started)

    async def next_round(self, started: float) -> None:
        """Wait for the next round: poll_interval after `started` while someone watches,
        idle_poll_interval while no one does (a page that opens ends that wait)."""
        await asyncio.sleep(0.05)
        if not self.hub.watched():
            await self.hub.until_watched(
                self.cfg.idle_poll_interval - (time.monotonic() - started))
        await asyncio.sleep(max(0.0, self.cfg.poll_interval - (time.monotonic() - started)))

    # -- BBS -----------------------------------------------------------------
    async def _bbs_json(self, path: str, timeout: float = 3.0):
        u = urlsplit(self.cfg.bbs_address)
        status, body = await http_get(u.hostname or "bbs", u.port or 8889, path,
                                      timeout=timeout, tls=self.bbs_tls)
        if status != 200:
            raise ValueError(f"BBS {path}: {status}")
        return json.loads(body)

    async def refresh_bbs(self) -> None:
        desired, actual, cells = await asyncio.gather(
            self._bbs_json("/v1/desired_lrps"), self._bbs_json("/v1/actual_lrps"),
            self._bbs_json("/v1/cells"))
        # An instance outlives its desired LRP while it stops: remember every app seen.
        self.apps.update(views.apps_by_process(desired))
        apps = self.apps
        names = {guid: name for guid, name in apps.values() if name}
        names.update(self.cc_names)  # the CC's name is the app's name now
        if any(self.names.get(g) != n for g, n in names.items()):
            self.names.update(names)
            self.routes_dirty = True  # route rows name their apps
        rows = views.container_rows(actual, apps)
        for address, since, owner in views.port_owners(rows):
            self.ports.observe(address, since, owner)
        self.tls_targets = views.tls_targets(rows)
        self.hub.replace("containers", rows)
        self.hub.replace("cells", views.cell_rows(cells, self.cfg.cells, rows))

    async def bbs_loop(self) -> None:
        version = -1
        while True:
            try:
                await self.refresh_bbs()
                # The BBS answers when anything changes, or after 2 s while someone
                # watches (cell presences expire without a change event); while no one
                # does, after idle_poll_interval, or at once when a page opens. Each
                # round is four mutual-TLS connections to the BBS.
                wait = 2.0 if self.hub.watched() else self.cfg.idle_poll_interval
                poll = asyncio.ensure_future(self._bbs_json(
                    f"/v1/events?after={version}&timeout={wait:g}", timeout=wait + 3))
                woken = asyncio.ensure_future(self.hub.until_watched(wait + 3))
                done, _ = await asyncio.wait({poll, woken}, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if poll in done:
                    version = int(poll.result().get("version", -1))
                else:
                    poll.cancel()
            except (OSError, TimeoutError, ValueError) as e:
                log.warning("BBS unreachable: %s", e)
                await asyncio.sleep(1)

    # -- the Cloud Controller --------------------------------------------------
    async def cc_loop(self) -> None:
        """App names as the CC has them now (they win over the LRPs' VCAP_APPLICATION)."""
        reader = CCReader(self.cfg.cc_url, self.cfg.uaa_url, self.cfg.uaa_client,
                          self.cfg.uaa_client_secret,
                          ssl.create_default_context(cafile=self.cfg.cc_ca_cert_file),
                          http_request)
        while True:
            try:
                names = await reader.apps()
            except (OSError, TimeoutError, ValueError) as e:
                log.warning("Cloud Controller unreachable: %s", e)
                self._foundation(cloud_controller="unreachable")
            else:
                self.cc_names = names
                self._foundation(cloud_controller="ok", cc_apps=len(names))
                if any(self.names.get(g) != n for g, n in names.items()):
                    self.names.update(names)
                    self.routes_dirty = True
            if self.hub.watched():
                await asyncio.sleep(self.cfg.cc_poll_interval)
            else:  # each read is a token and two TLS connections: at the idle rate
                await self.hub.until_watched(self.cfg.idle_poll_interval)

    # -- routes (NATS) ---------------------------------------------------------
    async def nats_loop(self) -> None:
        import nats

        async def on_message(msg) -> None:
            try:
                self.registry.handle(msg.subject, msg.data)
            except InvalidRegistryMessage as e:
                log.info("dropped a %s message: %s", msg.subject, e)
            self.routes_dirty = True

        async def connected() -> None:
            self._foundation(nats="connected")

        async def disconnected() -> None:
            self._foundation(nats="disconnected")

        auth = {"user": self.cfg.nats_username, "password": self.cfg.nats_password} \
            if self.cfg.nats_username else {}
        nc = await nats.connect(servers=self.cfg.nats_servers, name="dashboard", **auth,
                                max_reconnect_attempts=-1, reconnect_time_wait=1,
                                connect_timeout=2, allow_reconnect=True,
                                reconnected_cb=connected, disconnected_cb=disconnected)
        try:
            await nc.subscribe("router.register", cb=on_message)
            await nc.subscribe("router.unregister", cb=on_message)
            await nc.flush()
            await connected()
            await asyncio.Future()  # until cancelled
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 2)

    def route_table(self) -> dict[str, list[dict]]:
        table = {}
        for host, path, pool in self.registry.table.items():
            table[host + path] = [{**e.to_json(), "app_id": e.app_id, "updated_at": e.updated_at}
                                  for e in pool.endpoints]
        return table

    async def routes_loop(self) -> None:
        next_prune = time.monotonic() + self.cfg.prune_stale_droplets_interval
        while True:
            await asyncio.sleep(0.2)
            if time.monotonic() >= next_prune:
                next_prune += self.cfg.prune_stale_droplets_interval
                if self.registry.prune_stale_droplets():
                    self.routes_dirty = True
            # Route rows are built for someone to see: a refresh of every route every
            # 20 s would rebuild them several times a second at 100 instances.
            if self.routes_dirty and self.hub.watched():
                self.routes_dirty = False
                self.hub.replace("routes", views.route_rows(self.route_table(), self.names))

    # -- requests (access log) -------------------------------------------------
    async def access_log_loop(self) -> None:
        """Follow the access log like `tail -F`: from its last 64 KiB at start, from the
        beginning of a new file after a rotation or truncation."""
        f = None
        inode = None
        buf = b""
        try:
            while True:
                await asyncio.sleep(0.25)
                try:
                    st = os.stat(self.cfg.access_log)
                except FileNotFoundError:
                    continue
                if f is None or st.st_ino != inode or st.st_size < f.tell():
                    first = f is None
                    if f is not None:
                        f.close()
                    f, inode = open(self.cfg.access_log, "rb"), st.st_ino  # noqa: SIM115
                    buf = b""
                    if first and st.st_size > 64 * 1024:
                        f.seek(st.st_size - 64 * 1024)
                        f.readline()  # the cut line
                data = f.read(1024 * 1024)
                if data:
                    buf += data
                    *lines, buf = buf.split(b"\n")
                    self.ingest([ln.decode(errors="replace") for ln in lines if ln])
        finally:
            if f is not None:
                f.close()

    def ingest(self, lines: list[str]) -> None:
        rows = []
        for line in lines:
            try:
                rows.append(classify(parse_line(line), self.ports, self.names))
            except AccessLogError as e:
                log.debug("%s", e)
        if not rows:
            return
        for r in rows:
            self.traffic.add(r)
        self.hub.replace("traffic", self.traffic.rows())
        loud = [r for r in rows if r["outcome"] in (MISROUTED, ERROR)]
        quiet = [r for r in rows if r["outcome"] not in (MISROUTED, ERROR)]
        sample = (loud + quiet[-max(0, SAMPLE_PER_TICK - len(loud)):])[-SAMPLE_PER_TICK:]
        self.hub.requests(sorted(sample, key=lambda r: r["at"]))

    # -- identities -------------------------------------------------------------
    async def read_cert(self, instance_guid: str, target: str) -> bytes:
        host, _, port = target.rpartition(":")
        async with asyncio.timeout(self.cfg.poll_interval * 0.8):
            _, writer = await asyncio.open_connection(host, int(port), ssl=self.tls,
                                                      server_hostname=instance_guid)
        try:
            return writer.get_extra_info("ssl_object").getpeercert(binary_form=True) or b""
        finally:
            writer.close()

    def due(self, instance_guid: str, now: float) -> bool:
        """Whether an unwatched round reads this instance: it has no certificate on record
        yet (new, or its last read failed), or the cell's rotation of the one on record is
        due. Each read is a TLS handshake with the instance's proxy, so at 100 instances
        a read of all of them every idle round cost the dashboard and the proxies ~2.5%
        of a core; rotations are still seen, right after the cell makes them."""
        ident = self.identities.get(instance_guid)
        return (ident is None or not ident.serial or bool(ident.error)
                or now >= next_rotation(ident.not_before, ident.not_after))

    async def identity_loop(self) -> None:
        while True:
            started = time.monotonic()
            now = time.time()
            targets = dict(self.tls_targets)
            for guid in list(self.identities):
                if guid not in targets:
                    del self.identities[guid]
            watched = self.hub.watched()
            reading = {g: t for g, t in targets.items() if watched or self.due(g, now)}
            results = await asyncio.gather(*(self.read_cert(g, t) for g, t in reading.items()),
                                           return_exceptions=True)
            now = time.time()
            for guid, result in zip(reading, results, strict=True):
                ident = self.identities.setdefault(guid, Identity(guid))
                if isinstance(result, BaseException):
                    ident.error = f"{type(result).__name__}: {result}".rstrip(": ")
                    continue
                try:
                    ident.observe(parse_der(result), now)
                except CertificateError as e:
                    ident.error = str(e)
            self.hub.replace("identities", {g: i.row() for g, i in self.identities.items()})
            await self.next_round(started)
