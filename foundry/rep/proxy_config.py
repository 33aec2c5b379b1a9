"""The per-container proxy config the executor writes (proxy_config_handler.go).

Two layouts: the seed layout of PCF 2.1–2.3 (`envoy.yaml` bootstrap with static
clusters + `listeners.yaml`, an LDS DiscoveryResponse of v2 Listeners with the
certificate inline) and today's (`envoy.yaml` with static listeners + SDS
secret files). Strict mode adds `require_client_certificate` and a validation
context naming the router's CA and SAN.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

CONFIG_DIR = "/etc/cf-assets/envoy_config"
ADMIN_PORT = 61004
FIRST_PROXY_PORT = 61001
C2C_PORT = 61443
CIPHER_SUITES = "[ECDHE-RSA-AES256-GCM-SHA384|ECDHE-RSA-AES128-GCM-SHA256]"
V2_LISTENER = "type.googleapis.com/envoy.api.v2.Listener"
V3_SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
V3_DOWNSTREAM_TLS = (
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
)
V3_TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"


def proxy_ports(app_ports: list[int]) -> dict[int, int]:
    """App port -> TLS proxy port: 61001 upwards, skipping app ports and 61443."""
    mapping: dict[int, int] = {}
    candidate = FIRST_PROXY_PORT
    for port in dict.fromkeys(app_ports):
        if port == C2C_PORT:
            raise ValueError("port 61443 is reserved for container networking")
        while candidate in app_ports or candidate == C2C_PORT or candidate == ADMIN_PORT:
            candidate += 1
        mapping[port] = candidate
        candidate += 1
    return mapping


@dataclass(frozen=True)
class ProxySpec:
    container_ip: str
    app_ports: list[int]
    cert_chain: str
    private_key: str
    strict: bool = False
    trusted_ca: str = ""
    verify_subject_alt_name: tuple[str, ...] = ("gorouter.service.cf.internal",)
    layout: str = "seed"


def _cluster_name(i: int) -> str:
    return f"{i}-service-cluster"


def _endpoints(spec: ProxySpec, i: int, port: int) -> dict:
    """A STATIC cluster's one endpoint: v2's `hosts` in the seed layout, v3's
    `load_assignment` in the sds layout (today's Envoy rejects `hosts`)."""
    address = {"socket_address": {"address": spec.container_ip, "port_value": port}}
    if spec.layout == "seed":
        return {"hosts": [address]}
    return {"load_assignment": {
        "cluster_name": _cluster_name(i),
        "endpoints": [{"lb_endpoints": [{"endpoint": {"address": address}}]}],
    }}


def _bootstrap(spec: ProxySpec) -> dict:
    admin: dict = {"address": {"socket_address": {"address": "127.0.0.1",
                                                  "port_value": ADMIN_PORT}}}
    if spec.layout == "seed":  # v2's field; today's Envoy deprecates it (no admin log is kept)
        admin = {"access_log_path": "/dev/null", **admin}
    return {
        "admin": admin,
        "static_resources": {
            "clusters": [
                {
                    "name": _cluster_name(i),
                    "connect_timeout": "0.25s",
                    "type": "STATIC",
                    "lb_policy": "ROUND_ROBIN",
                    **_endpoints(spec, i, p),
                }
                for i, p in enumerate(dict.fromkeys(spec.app_ports))
            ]
        },
    }


def _seed_listeners(spec: ProxySpec) -> dict:
    resources = []
    for i, (app_port, tls_port) in enumerate(proxy_ports(spec.app_ports).items()):
        common: dict = {
            "tls_certificates": [{
                "certificate_chain": {"inline_string": spec.cert_chain},
                "private_key": {"inline_string": spec.private_key},
            }],
            "tls_params": {"cipher_suites": CIPHER_SUITES},
        }
        tls_context: dict = {"common_tls_context": common}
        if spec.strict:
            tls_context["require_client_certificate"] = True
            common["validation_context"] = {
                "trusted_ca": {"inline_string": spec.trusted_ca},
                "verify_subject_alt_name": list(spec.verify_subject_alt_name),
            }
        resources.append({
            "@type": V2_LISTENER,
            "name": f"listener-{app_port}",
            "address": {"socket_address": {"address": "0.0.0.0", "port_value": tls_port}},
            "filter_chains": [{
                "filters": [{
                    "name": "envoy.tcp_proxy",
                    "config": {"stat_prefix": f"{i}-stats", "cluster": _cluster_name(i)},
                }],
                "tls_context": tls_context,
            }],
        })
    return {"version_info": "0", "resources": resources}


def _file_source(name: str) -> dict:
    """A v3 ConfigSource reading a file that Envoy re-reads when it is replaced by rename."""
    return {"path_config_source": {"path": f"{CONFIG_DIR}/{name}"}, "resource_api_version": "V3"}


def _sds_listeners(spec: ProxySpec) -> list[dict]:
    listeners = []
    for i, (app_port, tls_port) in enumerate(proxy_ports(spec.app_ports).items()):
        common: dict = {
            "tls_certificate_sds_secret_configs": [{
                "name": "id-cert-and-key",
                "sds_config": _file_source("sds-id-cert-and-key.yaml"),
            }],
            "tls_params": {"cipher_suites": [
                "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256"]},
        }
        tls: dict = {"@type": V3_DOWNSTREAM_TLS, "common_tls_context": common}
        if spec.strict:
            tls["require_client_certificate"] = True
            common["validation_context_sds_secret_config"] = {
                "name": "id-validation-context",
                "sds_config": _file_source("sds-id-validation-context.yaml"),
            }
        listeners.append({
            "name": f"listener-{app_port}-{tls_port}",
            "address": {"socket_address": {"address": "0.0.0.0", "port_value": tls_port}},
            # One socket per port, as the seed's netstat shows (today's Envoy would
            # otherwise open one SO_REUSEPORT socket per worker thread).
            "enable_reuse_port": False,
            "filter_chains": [{
                "filters": [{
                    "name": "envoy.tcp_proxy",
                    "typed_config": {"@type": V3_TCP_PROXY,
                                     "stat_prefix": f"stats-{app_port}-{tls_port}",
                                     "cluster": _cluster_name(i)},
                }],
                "transport_socket": {"name": "envoy.transport_sockets.tls", "typed_config": tls},
            }],
        })
    return listeners


def _sds_secret(name: str, body: dict) -> dict:
    return {"version_info": "0", "resources": [{"@type": V3_SECRET, "name": name, **body}]}


# libyaml's emitter where PyYAML has it (Debian's does): the same text as the pure-Python
# one, which took ~14% of the rep's CPU while instances started (each start and rotation
# renders ~12 KB of listeners).
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(doc: object) -> str:
    return yaml.dump(doc, Dumper=_DUMPER, sort_keys=False)


def render(spec: ProxySpec) -> dict[str, str]:
    """File name -> YAML text, for the config directory."""
    bootstrap = _bootstrap(spec)
    files: dict[str, dict] = {}
    if spec.layout == "seed":
        bootstrap["dynamic_resources"] = {"lds_config": {"path": f"{CONFIG_DIR}/listeners.yaml"}}
        files["listeners.yaml"] = _seed_listeners(spec)
    elif spec.layout == "sds":
        bootstrap["static_resources"]["listeners"] = _sds_listeners(spec)
        files["sds-id-cert-and-key.yaml"] = _sds_secret("id-cert-and-key", {
            "tls_certificate": {
                "certificate_chain": {"inline_string": spec.cert_chain},
                "private_key": {"inline_string": spec.private_key},
            }})
        if spec.strict:
            files["sds-id-validation-context.yaml"] = _sds_secret("id-validation-context", {
                "validation_context": {
                    "trusted_ca": {"inline_string": spec.trusted_ca},
                    "match_subject_alt_names": [{"exact": s} for s in spec.verify_subject_alt_name],
                }})
    else:
        raise ValueError(f"proxy_config_layout: unknown layout {spec.layout!r} (seed or sds)")
    out = {"envoy.yaml": _dump(bootstrap)}
    out.update({name: _dump(doc) for name, doc in files.items()})
    return out


def certificate_files(layout: str) -> list[str]:
    """The files that carry the certificate: what a rotation rewrites."""
    return ["listeners.yaml"] if layout == "seed" else ["sds-id-cert-and-key.yaml"]
