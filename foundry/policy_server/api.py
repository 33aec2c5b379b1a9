"""The policy server's routes, served by the Cloud Controller's listeners.

External (`/networking/v1/external/...`, UAA token with network.admin or network.write,
on the public port where `GET /` advertises `network_policy_v1`) for users and `cf`;
internal (`/networking/v1/internal/policies?id=...`, on the CC's internal port) for the
cells' policy agents, as vxlan-policy-agent polls policy-server-internal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from foundry.policy_server.policies import (
    Policy,
    PolicyError,
    ids_param,
    listing,
    parse_policies,
    select,
)
from foundry.policy_server.store import PolicyStore

if TYPE_CHECKING:
    from foundry.cloud_controller.api import API, Handler, Request, Response

EXTERNAL = "/networking/v1/external"


def _body(req: Request) -> Any:
    try:
        return json.loads(req.body or b"null")
    except (ValueError, RecursionError):
        raise PolicyError("invalid request body: not JSON") from None


def _filters(req: Request) -> dict[str, set[str] | None]:
    q = req.query
    return {name: ids_param(q[key]) if key in q else None
            for name, key in (("ids", "id"), ("source_ids", "source_id"),
                              ("dest_ids", "dest_id"))}


def register(api: API) -> PolicyStore:
    from foundry.cloud_controller.api import Response

    store = PolicyStore(api.cc.db.conn, api.cc.db.lock)

    def refused(e: PolicyError, action: str) -> Response:
        return Response(400, {"error": f"{action}: {e}"})

    def list_policies(req: Request, m: re.Match[str]) -> Response:
        return Response(200, listing(select(store.all(), **_filters(req))))

    def changer(action: str, apply: Callable[[list[Policy]], None]) -> Handler:
        def change(req: Request, m: re.Match[str]) -> Response:
            try:
                apply(parse_policies(_body(req)))
            except PolicyError as e:
                return refused(e, action)
            return Response(200, {})
        return change

    def internal(req: Request, m: re.Match[str]) -> Response:
        ids = ids_param(req.query.get("id", []))
        return Response(200, listing(select(store.all(), ids=ids if "id" in req.query else None)))

    api._add("GET", EXTERNAL + "/policies", list_policies)  # noqa: SLF001
    api._add("POST", EXTERNAL + "/policies", changer("policies-create", store.add))  # noqa: SLF001
    api._add("POST", EXTERNAL + "/policies/delete",  # noqa: SLF001
             changer("delete-policies", store.delete))
    api.internal_routes.append(
        ("GET", re.compile(r"/networking/v1/internal/policies/?$"), internal))
    return store
