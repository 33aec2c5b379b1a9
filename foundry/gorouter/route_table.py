"""Route lookup: host + longest path prefix, then `*.domain` wildcards (gorouter `registry/`).

gorouter keeps a trie of URI segments; a dict of hosts to {context path: pool}
gives the same answers with an O(1) host lookup, which matters at 100k routes.
"""

from __future__ import annotations

from collections.abc import Iterator

from foundry.gorouter.pool import EndpointPool


def route_key(uri: str) -> tuple[str, str]:
    """Split a registered uri (`host` or `host/path`) into lower-cased (host, context path).

    The context path is "" for a bare host, otherwise "/a/b" without a trailing slash.
    """
    uri = uri.lower()
    q = uri.find("?")
    if q >= 0:
        uri = uri[:q]
    slash = uri.find("/")
    if slash < 0:
        return uri, ""
    host, path = uri[:slash], uri[slash:].rstrip("/")
    return host, path


def request_key(host: str, path: str) -> tuple[str, str]:
    """Lower-case the request host (port stripped) and path (query dropped)."""
    host = host.lower()
    if host.startswith("["):
        end = host.find("]")
        host = host[: end + 1] if end > 0 else host
    else:
        colon = host.rfind(":")
        if colon >= 0:
            host = host[:colon]
    q = path.find("?")
    if q >= 0:
        path = path[:q]
    return host, path.lower()


def wildcards(host: str) -> Iterator[str]:
    """`a.b.example.com` → `*.b.example.com`, `*.example.com`, `*.com`."""
    parts = host.split(".")
    for i in range(1, len(parts)):
        yield "*." + ".".join(parts[i:])


class RouteTable:
    """host → {context path → pool}."""

    __slots__ = ("_hosts", "_count")

    def __init__(self) -> None:
        self._hosts: dict[str, dict[str, EndpointPool]] = {}
        self._count = 0  # routes; kept up to date so total_routes is O(1)

    def __len__(self) -> int:
        return self._count

    def get(self, host: str, path: str) -> EndpointPool | None:
        paths = self._hosts.get(host)
        return paths.get(path) if paths else None

    def add(self, host: str, path: str, pool: EndpointPool) -> None:
        paths = self._hosts.get(host)
        if paths is None:
            self._hosts[host] = {path: pool}
            self._count += 1
            return
        if path not in paths:
            self._count += 1
        paths[path] = pool

    def delete(self, host: str, path: str) -> None:
        paths = self._hosts.get(host)
        if paths is None:
            return
        if paths.pop(path, None) is not None:
            self._count -= 1
        if not paths:
            del self._hosts[host]

    def num_endpoints(self) -> int:
        """Endpoints over all routes (the total_endpoints gauge); no copies, no tuples."""
        return sum([len(pool.endpoints) for paths in self._hosts.values()
                    for pool in paths.values()])

    def items(self) -> Iterator[tuple[str, str, EndpointPool]]:
        for host, paths in list(self._hosts.items()):
            for path, pool in list(paths.items()):
                yield host, path, pool

    @staticmethod
    def _match(paths: dict[str, EndpointPool], path: str) -> EndpointPool | None:
        if len(paths) == 1 and "" in paths:
            return paths[""]
        # Longest prefix on segment boundaries; prefer pools that have endpoints.
        fallback: EndpointPool | None = None
        candidate = path.rstrip("/")
        while True:
            pool = paths.get(candidate)
            if pool is not None:
                if pool.endpoints:
                    return pool
                fallback = fallback or pool
            if not candidate:
                return fallback
            cut = candidate.rfind("/")
            candidate = candidate[:cut] if cut > 0 else ""

    def lookup(self, host: str, path: str) -> EndpointPool | None:
        """Pool for a request's lower-cased host and path, or None for an unknown route."""
        paths = self._hosts.get(host)
        if paths is not None:
            pool = self._match(paths, path)
            if pool is not None:
                return pool
        for wild in wildcards(host):
            paths = self._hosts.get(wild)
            if paths is not None:
                pool = self._match(paths, path)
                if pool is not None:
                    return pool
        return None

    def to_json(self) -> dict[str, list[dict]]:
        """`/routes` body: route uri → endpoints."""
        return {host + path: [e.to_json() for e in pool.endpoints]
                for host, path, pool in self.items()}
