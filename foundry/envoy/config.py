"""Parse Envoy bootstrap, LDS and SDS documents (v2 and v3 shapes) into ``model``.

Sans-IO: callers hand in already-loaded YAML values plus a ``read_file``
callable for ``filename`` data sources. Every error is a ``ConfigError`` whose
message starts with the field path, e.g.
``listeners[0].filter_chains[0].tls_context.common_tls_context: ...``.
Fields that are known not to matter for an L4 proxy are accepted silently;
any other unknown field is reported as a warning rather than silently dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from .ciphers import CipherError, parse_cipher_suites
from .model import (
    Bootstrap,
    Cluster,
    ConfigError,
    DownstreamTls,
    LdsSource,
    Listener,
    SdsRef,
    Secret,
    SocketAddress,
    StringMatcher,
    TcpProxy,
    TlsCertificate,
    TlsParams,
    ValidationContext,
)

ReadFile = Callable[[str], bytes]

LISTENER_TYPES = {
    "type.googleapis.com/envoy.api.v2.Listener",
    "type.googleapis.com/envoy.config.listener.v3.Listener",
}
SECRET_TYPES = {
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
    "type.googleapis.com/envoy.api.v2.auth.Secret",
}
TCP_PROXY_NAMES = {"envoy.tcp_proxy", "envoy.filters.network.tcp_proxy"}
TCP_PROXY_TYPES = {
    "type.googleapis.com/envoy.config.filter.network.tcp_proxy.v2.TcpProxy",
    "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
}
TLS_SOCKET_NAMES = {"tls", "envoy.transport_sockets.tls"}
DOWNSTREAM_TLS_TYPES = {
    "type.googleapis.com/envoy.api.v2.auth.DownstreamTlsContext",
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
}
TLS_VERSIONS = {"TLS_AUTO", "TLSv1_0", "TLSv1_1", "TLSv1_2", "TLSv1_3"}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")


def _no_files(path: str) -> bytes:
    raise OSError(f"reading {path} is not allowed here")


class _Ctx:
    """Carries warnings and the file reader through one parse."""

    def __init__(self, read_file: ReadFile | None) -> None:
        self.read_file = read_file or _no_files
        self.warnings: list[str] = []


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _mapping(value: Any, path: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(path, f"expected a mapping, got {type(value).__name__}")
    return value


def _list(value: Any, path: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(path, f"expected a list, got {type(value).__name__}")
    return value


def _str(value: Any, path: str, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ConfigError(path, "expected a non-empty string")
    return value


def _bool(value: Any, path: str) -> bool:
    if isinstance(value, dict) and set(value) == {"value"}:  # BoolValue wrapper
        value = value["value"]
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ConfigError(path, "expected true or false")
    return value


def _is(value: Any, choices: set[str] | frozenset[str]) -> bool:
    """`value in choices` for a YAML value, which may be an unhashable list or mapping."""
    return isinstance(value, str) and value in choices


def _check_keys(
    ctx: _Ctx, node: dict, path: str, known: set[str], ignored: frozenset[str] = frozenset()
) -> None:
    for key in node:
        if key not in known and key not in ignored:
            ctx.warnings.append(f"{_join(path, key)}: unsupported field ignored")


def parse_duration(value: Any, path: str) -> float:
    """Protobuf JSON duration: ``"0.25s"``, ``{seconds, nanos}`` or a number of seconds."""
    if isinstance(value, bool):
        raise ConfigError(path, "expected a duration like '0.25s'")
    try:
        if isinstance(value, int | float):
            seconds = float(value)
        elif isinstance(value, str) and _DURATION.match(value.strip()):
            seconds = float(value.strip()[:-1])
        elif isinstance(value, dict) and set(value) <= {"seconds", "nanos"} and not any(
                isinstance(v, bool) for v in value.values()):
            seconds = float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9
        else:
            seconds = math.nan
    except (TypeError, ValueError, OverflowError):
        seconds = math.nan
    if not math.isfinite(seconds):
        raise ConfigError(path, f"expected a duration like '0.25s', got {value!r}"[:200])
    if seconds < 0:
        raise ConfigError(path, "duration must not be negative")
    return seconds


def parse_socket_address(ctx: _Ctx, node: Any, path: str) -> SocketAddress:
    node = _mapping(node, path)
    if "socket_address" not in node:
        raise ConfigError(path, "only socket_address is supported")
    _check_keys(ctx, node, path, {"socket_address"})
    path = _join(path, "socket_address")
    sa = _mapping(node["socket_address"], path)
    _check_keys(ctx, sa, path, {"address", "port_value", "protocol"}, frozenset({"ipv4_compat"}))
    if sa.get("protocol", "TCP") != "TCP":
        raise ConfigError(_join(path, "protocol"), "only TCP is supported")
    address = _str(sa.get("address"), _join(path, "address"))
    port = sa.get("port_value")
    if isinstance(port, str) and port.isdigit():
        port = int(port)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigError(_join(path, "port_value"), "expected a port number 0-65535")
    return SocketAddress(address, port)


def _data_source(ctx: _Ctx, node: Any, path: str) -> tuple[bytes, str]:
    node = _mapping(node, path)
    kinds = [k for k in ("inline_string", "inline_bytes", "filename") if k in node]
    if len(kinds) != 1:
        raise ConfigError(path, "expected exactly one of inline_string, inline_bytes, filename")
    _check_keys(ctx, node, path, {kinds[0]})
    kind = kinds[0]
    value = node[kind]
    if kind == "inline_string":
        return _str(value, _join(path, kind)).encode(), "<inline>"
    if kind == "inline_bytes":
        import base64

        try:
            return base64.b64decode(_str(value, _join(path, kind))), "<inline>"
        except ValueError as exc:
            raise ConfigError(_join(path, kind), f"not base64: {exc}") from None
    filename = _str(value, _join(path, kind))
    try:
        return ctx.read_file(filename), filename
    except OSError as exc:
        raise ConfigError(_join(path, kind), f"cannot read {filename}: {exc}") from None


def _pem(data: bytes, path: str, marker: bytes) -> bytes:
    if b"-----BEGIN" not in data or marker not in data:
        raise ConfigError(path, "does not contain a PEM " + marker.decode().strip("- "))
    return data


def parse_tls_certificate(ctx: _Ctx, node: Any, path: str) -> TlsCertificate:
    node = _mapping(node, path)
    _check_keys(ctx, node, path, {"certificate_chain", "private_key"})
    for key in ("certificate_chain", "private_key"):
        if key not in node:
            raise ConfigError(_join(path, key), "required")
    chain, chain_path = _data_source(ctx, node["certificate_chain"], _join(path, "certificate_chain"))
    key, _ = _data_source(ctx, node["private_key"], _join(path, "private_key"))
    _pem(chain, _join(path, "certificate_chain"), b"CERTIFICATE-----")
    _pem(key, _join(path, "private_key"), b"PRIVATE KEY-----")
    return TlsCertificate(chain, key, chain_path)


def parse_string_matcher(ctx: _Ctx, node: Any, path: str) -> StringMatcher:
    node = _mapping(node, path)
    kinds = [k for k in ("exact", "prefix", "suffix", "contains", "safe_regex") if k in node]
    if len(kinds) != 1:
        raise ConfigError(path, "expected exactly one of exact, prefix, suffix, contains, safe_regex")
    _check_keys(ctx, node, path, {kinds[0], "ignore_case"})
    kind = kinds[0]
    value = node[kind]
    if kind == "safe_regex":
        value = _mapping(value, _join(path, kind)).get("regex")
        try:
            re.compile(_str(value, _join(path, "safe_regex.regex")))
        except (re.error, OverflowError, RecursionError) as exc:
            raise ConfigError(_join(path, "safe_regex.regex"), f"bad regex: {exc}") from None
    return StringMatcher(kind, _str(value, _join(path, kind), required=kind == "safe_regex"),
                         _bool(node.get("ignore_case"), _join(path, "ignore_case")))


def parse_validation_context(ctx: _Ctx, node: Any, path: str) -> ValidationContext:
    node = _mapping(node, path)
    _check_keys(
        ctx, node, path,
        {"trusted_ca", "verify_subject_alt_name", "match_subject_alt_names",
         "match_typed_subject_alt_names"},
    )
    ca = None
    ca_path = "<inline>"
    if "trusted_ca" in node:
        ca, ca_path = _data_source(ctx, node["trusted_ca"], _join(path, "trusted_ca"))
        _pem(ca, _join(path, "trusted_ca"), b"CERTIFICATE-----")
    matchers: list[StringMatcher] = []
    vpath = _join(path, "verify_subject_alt_name")
    for i, san in enumerate(_list(node.get("verify_subject_alt_name"), vpath)):
        matchers.append(StringMatcher("exact", _str(san, _join(vpath, i))))
    mpath = _join(path, "match_subject_alt_names")
    for i, m in enumerate(_list(node.get("match_subject_alt_names"), mpath)):
        matchers.append(parse_string_matcher(ctx, m, _join(mpath, i)))
    tpath = _join(path, "match_typed_subject_alt_names")
    for i, m in enumerate(_list(node.get("match_typed_subject_alt_names"), tpath)):
        m = _mapping(m, _join(tpath, i))
        matchers.append(parse_string_matcher(ctx, m.get("matcher"), _join(_join(tpath, i), "matcher")))
    return ValidationContext(ca, tuple(matchers), ca_path)


def parse_sds_ref(ctx: _Ctx, node: Any, path: str) -> SdsRef:
    node = _mapping(node, path)
    _check_keys(ctx, node, path, {"name", "sds_config"})
    name = _str(node.get("name"), _join(path, "name"))
    if "sds_config" not in node:
        return SdsRef(name, None)
    return SdsRef(name, parse_path_source(ctx, node["sds_config"], _join(path, "sds_config")))


def parse_path_source(ctx: _Ctx, node: Any, path: str) -> str:
    """ConfigSource from a file: ``path`` (old) or ``path_config_source.path`` (new)."""
    node = _mapping(node, path)
    _check_keys(ctx, node, path, {"path", "path_config_source"},
                frozenset({"resource_api_version", "initial_fetch_timeout"}))
    if "path" in node:
        return _str(node["path"], _join(path, "path"))
    if "path_config_source" in node:
        ppath = _join(path, "path_config_source")
        pcs = _mapping(node["path_config_source"], ppath)
        _check_keys(ctx, pcs, ppath, {"path"}, frozenset({"watched_directory"}))
        return _str(pcs.get("path"), _join(ppath, "path"))
    raise ConfigError(path, "only file-based config sources (path, path_config_source) are supported")


def parse_common_tls(ctx: _Ctx, node: Any, path: str) -> dict[str, Any]:
    node = _mapping(node, path)
    _check_keys(
        ctx, node, path,
        {"tls_certificates", "tls_certificate_sds_secret_configs", "validation_context",
         "validation_context_sds_secret_config", "tls_params", "alpn_protocols"},
    )
    out: dict[str, Any] = {}
    cpath = _join(path, "tls_certificates")
    out["certificates"] = tuple(
        parse_tls_certificate(ctx, c, _join(cpath, i))
        for i, c in enumerate(_list(node.get("tls_certificates"), cpath))
    )
    spath = _join(path, "tls_certificate_sds_secret_configs")
    out["certificate_sds"] = tuple(
        parse_sds_ref(ctx, c, _join(spath, i))
        for i, c in enumerate(_list(node.get("tls_certificate_sds_secret_configs"), spath))
    )
    if not out["certificates"] and not out["certificate_sds"]:
        raise ConfigError(path, "a server TLS context needs tls_certificates or "
                                "tls_certificate_sds_secret_configs")
    if len(out["certificates"]) + len(out["certificate_sds"]) > 1:
        raise ConfigError(path, "only one certificate per TLS context is supported")
    if "validation_context" in node:
        out["validation"] = parse_validation_context(
            ctx, node["validation_context"], _join(path, "validation_context"))
    if "validation_context_sds_secret_config" in node:
        out["validation_sds"] = parse_sds_ref(
            ctx, node["validation_context_sds_secret_config"],
            _join(path, "validation_context_sds_secret_config"))
    out["params"] = parse_tls_params(ctx, node.get("tls_params"), _join(path, "tls_params"))
    apath = _join(path, "alpn_protocols")
    alpn = node.get("alpn_protocols")
    if isinstance(alpn, str):
        alpn = [alpn]
    protos: list[str] = []
    for i, entry in enumerate(_list(alpn, apath)):
        protos += [p.strip() for p in _str(entry, _join(apath, i)).split(",") if p.strip()]
    out["alpn"] = tuple(protos)
    return out


def parse_tls_params(ctx: _Ctx, node: Any, path: str) -> TlsParams:
    node = _mapping(node, path)
    _check_keys(ctx, node, path, {"cipher_suites", "tls_minimum_protocol_version",
                                  "tls_maximum_protocol_version", "ecdh_curves"})
    cpath = _join(path, "cipher_suites")
    suites = node.get("cipher_suites")
    if isinstance(suites, str):
        suites = [suites]
    suites = [_str(s, _join(cpath, i)) for i, s in enumerate(_list(suites, cpath))]
    try:
        spec = parse_cipher_suites(suites or None)
    except CipherError as exc:
        raise ConfigError(cpath, str(exc)) from None
    ctx.warnings += [f"{cpath}: {n}" for n in spec.notes]
    versions = {}
    for key, default in (("tls_minimum_protocol_version", "TLSv1_2"),
                         ("tls_maximum_protocol_version", "TLSv1_3")):
        v = node.get(key, "TLS_AUTO")
        if not _is(v, TLS_VERSIONS):
            raise ConfigError(_join(path, key), f"expected one of {sorted(TLS_VERSIONS)}")
        versions[key] = default if v == "TLS_AUTO" else v
    curves = tuple(_str(c, _join(path, "ecdh_curves"))
                   for c in _list(node.get("ecdh_curves"), _join(path, "ecdh_curves")))
    return TlsParams(spec.openssl, spec.server_preference,
                     versions["tls_minimum_protocol_version"],
                     versions["tls_maximum_protocol_version"], curves)


def parse_downstream_tls(ctx: _Ctx, node: Any, path: str) -> DownstreamTls:
    node = _mapping(node, path)
    _check_keys(ctx, node, path, {"common_tls_context", "require_client_certificate",
                                  "disable_stateless_session_resumption"},
                frozenset({"session_timeout", "full_scan_certs_on_sni_mismatch"}))
    if "common_tls_context" not in node:
        raise ConfigError(_join(path, "common_tls_context"), "required")
    common = parse_common_tls(ctx, node["common_tls_context"], _join(path, "common_tls_context"))
    require = _bool(node.get("require_client_certificate"), _join(path, "require_client_certificate"))
    if require and "validation" not in common and "validation_sds" not in common:
        raise ConfigError(_join(path, "require_client_certificate"),
                          "requires a validation context with trusted_ca")
    no_tickets = _bool(node.get("disable_stateless_session_resumption"),
                       _join(path, "disable_stateless_session_resumption"))
    return DownstreamTls(
        params=common["params"], certificates=common["certificates"],
        certificate_sds=common["certificate_sds"], validation=common.get("validation"),
        validation_sds=common.get("validation_sds"), require_client_certificate=require,
        alpn=common["alpn"], session_tickets=not no_tickets,
    )


def _typed(ctx: _Ctx, node: dict, path: str, types: set[str]) -> tuple[dict, str]:
    """The body of a filter/transport socket: v2 ``config`` or ``typed_config``."""
    if "typed_config" in node:
        tpath = _join(path, "typed_config")
        body = dict(_mapping(node["typed_config"], tpath))
        t = body.pop("@type", None)
        if not _is(t, types):
            raise ConfigError(_join(tpath, "@type"), f"unsupported type {t!r}")
        return body, tpath
    return _mapping(node.get("config"), _join(path, "config")), _join(path, "config")


def parse_tcp_proxy(ctx: _Ctx, node: Any, path: str) -> TcpProxy:
    node = _mapping(node, path)
    name = node.get("name")
    if not _is(name, TCP_PROXY_NAMES):
        raise ConfigError(_join(path, "name"), f"unsupported network filter {name!r}; "
                                               "only envoy.tcp_proxy is implemented")
    _check_keys(ctx, node, path, {"name", "config", "typed_config"})
    body, bpath = _typed(ctx, node, path, TCP_PROXY_TYPES)
    _check_keys(ctx, body, bpath, {"stat_prefix", "cluster", "idle_timeout"},
                frozenset({"access_log", "max_connect_attempts"}))
    idle = body.get("idle_timeout")
    return TcpProxy(
        stat_prefix=_str(body.get("stat_prefix"), _join(bpath, "stat_prefix")),
        cluster=_str(body.get("cluster"), _join(bpath, "cluster")),
        idle_timeout=None if idle is None else parse_duration(idle, _join(bpath, "idle_timeout")),
    )


def parse_listener(ctx: _Ctx, node: Any, path: str) -> Listener:
    node = _mapping(node, path)
    body = dict(node)
    body.pop("@type", None)
    _check_keys(ctx, body, path, {"name", "address", "filter_chains"},
                frozenset({"traffic_direction", "metadata", "drain_type", "stat_prefix",
                           "per_connection_buffer_limit_bytes", "listener_filters",
                           "continue_on_listener_filters_timeout", "listener_filters_timeout",
                           "enable_reuse_port"}))
    name = _str(body.get("name"), _join(path, "name"))
    address = parse_socket_address(ctx, body.get("address"), _join(path, "address"))
    fpath = _join(path, "filter_chains")
    chains = _list(body.get("filter_chains"), fpath)
    if len(chains) != 1:
        raise ConfigError(fpath, f"exactly one filter chain is supported, got {len(chains)}")
    cpath = _join(fpath, 0)
    chain = _mapping(chains[0], cpath)
    _check_keys(ctx, chain, cpath,
                {"filters", "tls_context", "transport_socket", "transport_socket_connect_timeout"},
                frozenset({"name", "metadata"}))
    if chain.get("filter_chain_match"):
        raise ConfigError(_join(cpath, "filter_chain_match"), "not supported")
    filters = _list(chain.get("filters"), _join(cpath, "filters"))
    if len(filters) != 1:
        raise ConfigError(_join(cpath, "filters"), "exactly one filter (envoy.tcp_proxy) is supported")
    tcp = parse_tcp_proxy(ctx, filters[0], _join(_join(cpath, "filters"), 0))
    tls = None
    if "tls_context" in chain and "transport_socket" in chain:
        raise ConfigError(cpath, "tls_context and transport_socket are mutually exclusive")
    if "tls_context" in chain:
        tls = parse_downstream_tls(ctx, chain["tls_context"], _join(cpath, "tls_context"))
    elif "transport_socket" in chain:
        tpath = _join(cpath, "transport_socket")
        ts = _mapping(chain["transport_socket"], tpath)
        _check_keys(ctx, ts, tpath, {"name", "typed_config", "config"})
        if not _is(ts.get("name"), TLS_SOCKET_NAMES):
            raise ConfigError(_join(tpath, "name"), f"unsupported transport socket {ts.get('name')!r}")
        tbody, bpath = _typed(ctx, ts, tpath, DOWNSTREAM_TLS_TYPES)
        tls = parse_downstream_tls(ctx, tbody, bpath)
    timeout = 10.0
    if "transport_socket_connect_timeout" in chain:
        timeout = parse_duration(chain["transport_socket_connect_timeout"],
                                 _join(cpath, "transport_socket_connect_timeout"))
    return Listener(name, address, tcp, tls, timeout, raw=node)


def parse_cluster(ctx: _Ctx, node: Any, path: str) -> Cluster:
    node = _mapping(node, path)
    _check_keys(ctx, node, path,
                {"name", "connect_timeout", "type", "hosts", "load_assignment", "lb_policy"},
                frozenset({"circuit_breakers", "per_connection_buffer_limit_bytes",
                           "common_lb_config", "upstream_connection_options", "alt_stat_name"}))
    name = _str(node.get("name"), _join(path, "name"))
    kind = node.get("type", "STATIC")
    if kind != "STATIC":
        raise ConfigError(_join(path, "type"), f"only STATIC clusters are supported, got {kind!r}")
    lb = node.get("lb_policy", "ROUND_ROBIN")
    if lb not in ("ROUND_ROBIN", "RANDOM", "LEAST_REQUEST"):
        raise ConfigError(_join(path, "lb_policy"), f"unsupported lb_policy {lb!r}")
    timeout = parse_duration(node.get("connect_timeout", "5s"), _join(path, "connect_timeout"))
    endpoints: list[SocketAddress] = []
    hpath = _join(path, "hosts")
    for i, h in enumerate(_list(node.get("hosts"), hpath)):
        endpoints.append(parse_socket_address(ctx, h, _join(hpath, i)))
    if "load_assignment" in node:
        lpath = _join(path, "load_assignment")
        la = _mapping(node["load_assignment"], lpath)
        _check_keys(ctx, la, lpath, {"cluster_name", "endpoints"}, frozenset({"policy"}))
        epath = _join(lpath, "endpoints")
        for i, group in enumerate(_list(la.get("endpoints"), epath)):
            gpath = _join(epath, i)
            group = _mapping(group, gpath)
            _check_keys(ctx, group, gpath, {"lb_endpoints"},
                        frozenset({"locality", "priority", "load_balancing_weight"}))
            lbpath = _join(gpath, "lb_endpoints")
            for j, lbe in enumerate(_list(group.get("lb_endpoints"), lbpath)):
                epath2 = _join(lbpath, j)
                lbe = _mapping(lbe, epath2)
                _check_keys(ctx, lbe, epath2, {"endpoint"},
                            frozenset({"health_status", "metadata", "load_balancing_weight"}))
                ep = _mapping(lbe.get("endpoint"), _join(epath2, "endpoint"))
                endpoints.append(parse_socket_address(ctx, ep.get("address"),
                                                      _join(_join(epath2, "endpoint"), "address")))
    if not endpoints:
        raise ConfigError(path, "a STATIC cluster needs hosts or load_assignment endpoints")
    return Cluster(name, timeout, tuple(endpoints), kind)


def parse_secret(ctx: _Ctx, node: Any, path: str) -> Secret:
    node = dict(_mapping(node, path))
    node.pop("@type", None)
    _check_keys(ctx, node, path, {"name", "tls_certificate", "validation_context"})
    name = _str(node.get("name"), _join(path, "name"))
    cert = val = None
    if "tls_certificate" in node:
        cert = parse_tls_certificate(ctx, node["tls_certificate"], _join(path, "tls_certificate"))
    if "validation_context" in node:
        val = parse_validation_context(ctx, node["validation_context"],
                                       _join(path, "validation_context"))
    if cert is None and val is None:
        raise ConfigError(path, "a secret needs tls_certificate or validation_context")
    return Secret(name, cert, val)


def parse_bootstrap(doc: Any, read_file: ReadFile | None = None) -> tuple[Bootstrap, list[str]]:
    """Parse envoy.yaml. Returns the bootstrap and warnings about ignored fields."""
    ctx = _Ctx(read_file)
    root = _mapping(doc, "")
    _check_keys(ctx, root, "", {"admin", "static_resources", "dynamic_resources", "node"},
                frozenset({"stats_config", "layered_runtime", "runtime", "stats_flush_interval",
                           "overload_manager", "watchdog", "watchdogs", "cluster_manager",
                           "stats_sinks", "hds_config", "flags_path"}))
    admin = None
    if "admin" in root:
        a = _mapping(root["admin"], "admin")
        _check_keys(ctx, a, "admin", {"address"},
                    frozenset({"access_log_path", "access_log", "profile_path"}))
        admin = parse_socket_address(ctx, a.get("address"), "admin.address")
    node_info = _mapping(root.get("node"), "node")
    static = _mapping(root.get("static_resources"), "static_resources")
    _check_keys(ctx, static, "static_resources", {"clusters", "listeners", "secrets"})
    clusters: dict[str, Cluster] = {}
    for i, c in enumerate(_list(static.get("clusters"), "static_resources.clusters")):
        cluster = parse_cluster(ctx, c, f"static_resources.clusters[{i}]")
        if cluster.name in clusters:
            raise ConfigError(f"static_resources.clusters[{i}].name",
                              f"duplicate cluster {cluster.name!r}")
        clusters[cluster.name] = cluster
    secrets: dict[str, Secret] = {}
    for i, s in enumerate(_list(static.get("secrets"), "static_resources.secrets")):
        secret = parse_secret(ctx, s, f"static_resources.secrets[{i}]")
        secrets[secret.name] = secret
    listeners = _parse_listeners(ctx, _list(static.get("listeners"), "static_resources.listeners"),
                                 "static_resources.listeners", typed=False)
    dyn = _mapping(root.get("dynamic_resources"), "dynamic_resources")
    _check_keys(ctx, dyn, "dynamic_resources", {"lds_config"})
    lds = None
    if "lds_config" in dyn:
        lds = LdsSource(parse_path_source(ctx, dyn["lds_config"], "dynamic_resources.lds_config"))
    return Bootstrap(
        admin=admin, clusters=clusters, listeners=listeners, lds=lds, secrets=secrets,
        node_id=str(node_info.get("id", "")), node_cluster=str(node_info.get("cluster", "")),
        raw=root,
    ), ctx.warnings


def _parse_listeners(ctx: _Ctx, items: list, path: str, typed: bool) -> tuple[Listener, ...]:
    out: list[Listener] = []
    names: set[str] = set()
    for i, item in enumerate(items):
        lpath = _join(path, i)
        if typed:
            t = _mapping(item, lpath).get("@type")
            if not _is(t, LISTENER_TYPES):
                raise ConfigError(_join(lpath, "@type"), f"unsupported resource type {t!r}")
        listener = parse_listener(ctx, item, lpath)
        if listener.name in names:
            raise ConfigError(_join(lpath, "name"), f"duplicate listener {listener.name!r}")
        names.add(listener.name)
        out.append(listener)
    return tuple(out)


def _discovery_response(ctx: _Ctx, doc: Any, types: set[str]) -> list:
    root = _mapping(doc, "")
    _check_keys(ctx, root, "", {"resources", "version_info", "type_url"},
                frozenset({"nonce", "canary", "control_plane"}))
    if "type_url" in root and not _is(root["type_url"], types):
        raise ConfigError("type_url", f"unsupported type {root['type_url']!r}")
    return _list(root.get("resources"), "resources")


def parse_lds(doc: Any, read_file: ReadFile | None = None) -> tuple[tuple[Listener, ...], list[str]]:
    """Parse an LDS DiscoveryResponse (v2 or v3 Listener resources)."""
    ctx = _Ctx(read_file)
    resources = _discovery_response(ctx, doc, LISTENER_TYPES)
    return _parse_listeners(ctx, resources, "resources", typed=True), ctx.warnings


def parse_sds(doc: Any, read_file: ReadFile | None = None) -> tuple[dict[str, Secret], list[str]]:
    """Parse an SDS DiscoveryResponse into secrets by name."""
    ctx = _Ctx(read_file)
    secrets: dict[str, Secret] = {}
    for i, item in enumerate(_discovery_response(ctx, doc, SECRET_TYPES)):
        path = f"resources[{i}]"
        t = _mapping(item, path).get("@type")
        if not _is(t, SECRET_TYPES):
            raise ConfigError(f"{path}.@type", f"unsupported resource type {t!r}")
        secret = parse_secret(ctx, item, path)
        secrets[secret.name] = secret
    return secrets, ctx.warnings


def load_yaml(text: bytes | str, what: str = "") -> Any:
    """YAML (or JSON) text to Python values; syntax errors become ConfigError.

    PyYAML is imported here (the running proxy drops it between reloads, see
    ``lean``). libyaml's parser does the work when present; a document it
    rejects is parsed again by the pure-Python loader, so the result and the
    error message are exactly ``yaml.safe_load``'s.
    """
    import yaml  # noqa: PLC0415

    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.load(text, Loader=fast)  # noqa: S506 - CSafeLoader is the safe loader
        except yaml.YAMLError as exc:
            if "exceeded maximum nesting depth" in str(exc):
                # the pure loader would recurse to Python's limit first (3 s for 3000 '[')
                raise ConfigError(what, f"invalid YAML: {exc}") from None
        except Exception:  # noqa: BLE001, S110 - the pure loader below decides (and words the error)
            pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(what, f"invalid YAML: {exc}") from None
    except (ValueError, ArithmeticError, LookupError, TypeError, RecursionError) as exc:
        # PyYAML's constructors raise these on values they refuse (`2001-13-01` is a
        # timestamp with month 13, an empty `!!float` an IndexError), or on nesting
        # deeper than the parser recurses
        raise ConfigError(what, f"invalid YAML: {type(exc).__name__}: {exc}"[:300]) from None
