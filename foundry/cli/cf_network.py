"""`cf add-network-policy`, `cf network-policies`, `cf remove-network-policy`: the
container-to-container policy commands, against the policy server that `GET /`
advertises as `network_policy_v1`. Output as cf v7 prints it."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from foundry.cli import cf_format as fmt
from foundry.cli.cf_client import CFError

if TYPE_CHECKING:
    from foundry.cli.cf import Context

POLICIES = "/networking/v1/external/policies"
PORT_RANGE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")


def port_range(text: str) -> tuple[int, int]:
    """`8080` or `8080-8090`, each 1-65535, start not above end."""
    m = PORT_RANGE.match(text.strip())
    start, end = (int(m[1]), int(m[2] or m[1])) if m else (0, 0)
    if not (1 <= start <= end <= 65535):
        raise CFError(f"Incorrect Usage: port must be a number or a range like 8080-8090 "
                      f"within 1-65535, not '{text}'")
    return start, end


def policy(source: str, dest: str, protocol: str, ports: tuple[int, int]) -> dict[str, Any]:
    return {"source": {"id": source}, "destination": {
        "id": dest, "protocol": protocol, "ports": {"start": ports[0], "end": ports[1]}}}


def _destination(a: argparse.Namespace) -> str:
    name = a.destination or a.destination_app
    if not name:
        raise CFError("Incorrect Usage: the required argument `DESTINATION_APP` was not provided")
    return name


def _guids(ctx: Context, source: str, dest: str) -> tuple[str, str]:
    return ctx.app(source)["metadata"]["guid"], ctx.app(dest)["metadata"]["guid"]


def cmd_add_network_policy(ctx: Context, a: argparse.Namespace) -> int:
    dest_name = _destination(a)
    ports = port_range(a.port or "8080")
    ctx.say(f"Adding network policy from app {a.source} to app {dest_name} {ctx.where()}...")
    source, dest = _guids(ctx, a.source, dest_name)
    ctx.client.call("POST", POLICIES, {"policies": [policy(source, dest, a.protocol, ports)]})
    ctx.say("OK")
    return 0


def cmd_remove_network_policy(ctx: Context, a: argparse.Namespace) -> int:
    dest_name = _destination(a)
    ports = port_range(a.port)
    ctx.say(f"Removing network policy from app {a.source} to app {dest_name} {ctx.where()}...")
    source, dest = _guids(ctx, a.source, dest_name)
    wanted = policy(source, dest, a.protocol, ports)
    existing = ctx.client.get(POLICIES, id=source).get("policies", [])
    if wanted not in existing:
        ctx.say("Policy does not exist.")
        ctx.say("OK")
        return 0
    ctx.client.call("POST", POLICIES + "/delete", {"policies": [wanted]})
    ctx.say("OK")
    return 0


def cmd_network_policies(ctx: Context, a: argparse.Namespace) -> int:
    ctx.say(f"Listing network policies {ctx.where()}...\n")
    apps = {x["metadata"]["guid"]: x["entity"]["name"]
            for x in ctx.client.resources("/v2/apps", f"space_guid:{ctx.space_guid()}")}
    query = {"id": ctx.app(a.source)["metadata"]["guid"]} if a.source else {}
    rows = []
    for p in ctx.client.get(POLICIES, **query).get("policies", []):
        src, dst = p["source"]["id"], p["destination"]["id"]
        if src not in apps or (a.source and apps[src] != a.source):
            continue  # policies of apps in other spaces are listed there
        start, end = p["destination"]["ports"]["start"], p["destination"]["ports"]["end"]
        rows.append([apps[src], apps.get(dst, dst), p["destination"]["protocol"],
                     str(start) if start == end else f"{start}-{end}",
                     ctx.config.space if dst in apps else "", ctx.config.org if dst in apps else ""])
    ctx.say(fmt.table(["source", "destination", "protocol", "ports", "destination space",
                       "destination org"], sorted(rows)) if rows else "No policies found.")
    return 0


def add_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    for name, fn, help_ in (
            ("add-network-policy", cmd_add_network_policy,
             "Create policy to allow direct network traffic from one app to another"),
            ("remove-network-policy", cmd_remove_network_policy,
             "Remove network traffic policy of an app")):
        sp = add(name, fn, help_)
        sp.add_argument("source", metavar="SOURCE_APP")
        sp.add_argument("destination", metavar="DESTINATION_APP", nargs="?")
        sp.add_argument("--destination-app", help="(cf v6) the destination app")
        sp.add_argument("--protocol", choices=("tcp", "udp"), default="tcp" if
                        name == "add-network-policy" else None,
                        required=name == "remove-network-policy",
                        help="protocol that apps are connected with (default: tcp)")
        sp.add_argument("--port", required=name == "remove-network-policy",
                        help="port or range of ports for connection to destination app "
                             "(default: 8080)")
    sp = add("network-policies", cmd_network_policies, "List direct network traffic policies")
    sp.add_argument("--source", help="source app to filter results by")
