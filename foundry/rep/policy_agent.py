"""Container-to-container isolation on a cell: default deny, opened by policies.

On a real cell silk gives every container its own veth and vxlan-policy-agent writes
iptables rules that drop container-to-container traffic unless a cf-networking policy
allows it. cflab's app containers share their cell's Docker bridge, so the bridge
would switch their packets past the cell's own tables; the rules therefore go into
each container's network namespace instead: the executor installs them as root with
Docker's privileged exec before the app starts (the app's processes, and `cf ssh`
sessions, have no NET_ADMIN and cannot change them), and this agent rewrites them when
the policies or the source instances change.

Allowed in: replies to the container's own connections, its own address (the proxy to
the app, health checks), the cell (the router's traffic after DNAT, the ssh-proxy),
and a policy's source instances on its destination ports. Everything else new is
refused (TCP reset; ICMP port unreachable otherwise), in every mode.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from foundry.bbs.client import BBSError
from foundry.keepalive import KeptConnection

log = logging.getLogger("rep.policy_agent")

CHAIN = "cflab-c2c"
POLL_INTERVAL = 1.0  # vxlan-policy-agent's poll is 5 s; cflab promises enforcement within 2 s


@dataclass(frozen=True, order=True)
class Allowed:
    source_ip: str
    protocol: str
    start: int
    end: int


def filter_rules(own_ip: str, cell_ip: str, allowed: Iterable[Allowed]) -> str:
    """The container's whole filter table, for `iptables-restore` (atomic, so a rewrite
    never leaves a moment with no rules)."""
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             f":{CHAIN} - [0:0]", f"-A INPUT -j {CHAIN}",
             f"-A {CHAIN} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
             f"-A {CHAIN} -s 127.0.0.0/8 -j ACCEPT",
             f"-A {CHAIN} -s {own_ip}/32 -j ACCEPT",
             f"-A {CHAIN} -s {cell_ip}/32 -j ACCEPT"]
    for a in sorted(set(allowed)):
        ports = str(a.start) if a.start == a.end else f"{a.start}:{a.end}"
        lines.append(f"-A {CHAIN} -s {a.source_ip}/32 -p {a.protocol} -m {a.protocol} "
                     f"--dport {ports} -j ACCEPT")
    lines += [f"-A {CHAIN} -p tcp -j REJECT --reject-with tcp-reset",
              f"-A {CHAIN} -j REJECT --reject-with icmp-port-unreachable", "COMMIT", ""]
    return "\n".join(lines)


def allowed_for(app_guid: str, policies: Iterable[dict[str, Any]],
                instance_ips: dict[str, list[str]]) -> list[Allowed]:
    """What a policy opens into an instance of `app_guid`: each running instance of the
    source app, on the destination's protocol and ports."""
    out = []
    for p in policies:
        dest = p.get("destination") or {}
        if dest.get("id") != app_guid:
            continue
        ports = dest.get("ports") or {}
        for ip in instance_ips.get((p.get("source") or {}).get("id", ""), []):
            out.append(Allowed(ip, dest.get("protocol", "tcp"), int(ports.get("start", 0)),
                               int(ports.get("end", 0))))
    return sorted(set(out))


def instance_ips(actual_lrps: Iterable[dict[str, Any]],
                 app_of_process: dict[str, str]) -> dict[str, list[str]]:
    """app guid → the container addresses of its running instances."""
    out: dict[str, list[str]] = {}
    for lrp in actual_lrps:
        app = app_of_process.get(lrp.get("process_guid", ""))
        ip = lrp.get("instance_address")
        if app and ip and lrp.get("state") == "RUNNING":
            out.setdefault(app, []).append(ip)
    return out


class PolicyAgent:
    """Polls the policy server and the BBS; rewrites a container's rules when what they
    should say changes. `containers()` lists (handle, app guid, container ip, cid) of
    the cell's instances; `apply(cid, rules)` installs rules in one container."""

    def __init__(self, policy_url: str, bbs: Any, cell_ip: str,
                 containers: Callable[[], list[tuple[str, str, str, str]]],
                 apply: Callable[[str, str], None], interval: float = POLL_INTERVAL) -> None:
        self.policy_url, self.bbs, self.cell_ip = policy_url.rstrip("/"), bbs, cell_ip
        self._server = KeptConnection.for_url(self.policy_url)
        self.containers, self.apply, self.interval = containers, apply, interval
        self.applied: dict[str, str] = {}  # handle -> rules last installed
        self.policies: list[dict[str, Any]] = []
        self.ips: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def rules(self, app_guid: str, own_ip: str) -> str:
        """Rules for a container about to start, from what the last poll saw."""
        with self.lock:
            return filter_rules(own_ip, self.cell_ip,
                                allowed_for(app_guid, self.policies, self.ips))

    def installed(self, handle: str, rules: str) -> None:
        with self.lock:
            self.applied[handle] = rules

    def fetch_policies(self, app_guids: set[str]) -> list[dict[str, Any]]:
        """The policies whose source or destination is one of `app_guids`, on the agent's
        kept connection (a poll a second from each cell; a new one each time cost the CC
        a thread and both sides a TCP handshake). OSError/ValueError when it fails."""
        path = f"/networking/v1/internal/policies?id={','.join(sorted(app_guids))}"
        try:
            status, raw = self._server.exchange("GET", path, None, {}, timeout=5)
        except http.client.HTTPException as exc:
            raise ValueError(f"policy server {self.policy_url}: {exc!r}") from exc
        if status != 200:
            raise ValueError(f"policy server {self.policy_url} answered {status}:"
                             f" {raw[:200].decode(errors='replace')}")
        return list(json.loads(raw).get("policies") or [])

    def sync(self) -> int:
        """One pass; returns how many containers got new rules."""
        running = self.containers()
        apps = {app for _, app, _, _ in running if app}
        policies = self.fetch_policies(apps) if apps else []
        ips: dict[str, list[str]] = {}
        if any((p.get("destination") or {}).get("id") in apps for p in policies):
            desired = self.bbs.desired_lrps()
            app_of = {d["process_guid"]: d.get("log_guid", "") for d in desired}
            ips = instance_ips(self.bbs.actual_lrps(), app_of)
        with self.lock:
            self.policies, self.ips = policies, ips
            self.applied = {h: r for h, r in self.applied.items()
                            if h in {c[0] for c in running}}
        changed = 0
        for handle, app, ip, cid in running:
            rules = self.rules(app, ip)
            with self.lock:
                if self.applied.get(handle) in (None, rules):
                    continue  # not installed yet (the executor does it), or unchanged
            try:
                self.apply(cid, rules)
            except Exception as exc:  # noqa: BLE001 - one container must not stop the rest
                log.warning("rules for %s not updated: %s", handle, exc)
                continue
            self.installed(handle, rules)
            changed += 1
            log.info("container %s: %d policy rule(s) allow traffic in",
                     handle, rules.count("--dport"))
        return changed

    def loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.sync()
            except (OSError, ValueError, BBSError) as exc:
                log.warning("policy poll failed: %s", exc)
            except Exception:  # noqa: BLE001 - the agent keeps polling whatever happens
                log.exception("policy poll failed")
