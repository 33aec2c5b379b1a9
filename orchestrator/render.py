"""Render each job's own config file from the one foundation config, as BOSH does.

Output goes to `.cflab/<project>/`: `jobs/<job>/config/<file>` (bind-mounted
read-only at `/var/vcap/jobs/<job>/config` in the job's container), the
generated Compose file for the cells, and the effective foundation config.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import yaml

from orchestrator import job_health
from orchestrator.config import FoundationConfig
from orchestrator.images import stack_image

ROOT = Path(__file__).resolve().parents[1]
STATE_ROOT = ROOT / ".cflab"
COMPOSE_FILE = ROOT / "compose" / "foundation.yml"
PRESENCE_REFRESH_S = 5.0  # locket: presences retry every 5 s with a 15 s TTL


def state_dir(project: str) -> Path:
    return STATE_ROOT / project


def compose_env(cfg: FoundationConfig) -> dict[str, str]:
    """The CFLAB_* variables compose/foundation.yml is written against."""
    return {
        "CFLAB_PROJECT": cfg.project,
        "CFLAB_FOUNDATION_SUBNET": str(cfg.foundation_subnet),
        "CFLAB_NATS_MONITOR_PORT": str(cfg.ports["nats_monitor"]),
        "CFLAB_HTTP_PORT": str(cfg.ports["http"]),
        "CFLAB_ROUTER_WORKERS": str(cfg.router_workers),
        "CFLAB_BBS_PORT": str(cfg.ports["bbs"]),
        "CFLAB_CC_PORT": str(cfg.ports["cloud_controller"]),
        "CFLAB_UAA_PORT": str(cfg.ports["uaa"]),
        "CFLAB_SSH_PROXY_PORT": str(cfg.ports["ssh_proxy"]),
        "CFLAB_DASHBOARD_PORT": str(cfg.ports["dashboard"]),
        "CFLAB_CA_KEY_SIZE": str(cfg.key_sizes["ca"]),
        "CFLAB_JOBS_DIR": str(state_dir(cfg.project) / "jobs"),
    }


MODE_FLAGS = {  # rep.json flags per route-integrity mode (DESIGN.md §2)
    "before-envoy": {"enable_container_proxy": False, "enable_unproxied_port_mappings": True,
                     "container_proxy_require_and_verify_client_certs": False},
    "after-envoy": {"enable_container_proxy": True, "enable_unproxied_port_mappings": True,
                    "container_proxy_require_and_verify_client_certs": False},
    "strict": {"enable_container_proxy": True, "enable_unproxied_port_mappings": False,
               "container_proxy_require_and_verify_client_certs": True},
}
CREDHUB_URL = "https://credhub.service.cf.internal:8844"
BROKER_USER, BROKER_PASSWORD = "broker", "broker-secret"  # a demo broker's basic auth
REP_SECRETS = "/var/vcap/jobs/rep/secrets"
BBS_URL = "https://bbs.service.cf.internal:8889"  # mutual TLS only, as diego-release's BBS
BBS_HEALTH = "127.0.0.1:8890"  # the BBS's plain /ping, on its loopback (diego's health_address)
CFDOT_CERTS = "/var/vcap/jobs/cfdot/config/certs/cfdot"  # where diego's cfdot job keeps them


def bbs_client_files(job: str) -> dict[str, str]:
    """A BBS client job's TLS settings: the files the PKI step writes into its secrets."""
    secrets = f"/var/vcap/jobs/{job}/secrets"
    return {"bbs_ca_cert_file": f"{secrets}/bbs_ca.crt",
            "bbs_client_cert_file": f"{secrets}/bbs_client.crt",
            "bbs_client_key_file": f"{secrets}/bbs_client.key"}


NATS_USER = "nats"  # cf-deployment's nats.user; the password is ((nats_password))


def nats_password(project: str) -> str:
    """The foundation's NATS password, as cf-deployment's ((nats_password)): generated at
    the first render, kept 0600 in the foundation's state directory until `down`."""
    path = state_dir(project) / "nats_password"
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_hex(20)  # hex: safe in a nats:// URL and in nats.conf
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, password.encode() + b"\n")
    finally:
        os.close(fd)
    return password


def nats_conf(password: str) -> str:
    """nats-server's config as cf-deployment's nats job renders it: one user, a password."""
    return ("# rendered by cflab from the foundation config; holds the NATS password\n"
            "listen: 0.0.0.0:4222\n"
            "http: 0.0.0.0:8222\n"
            "authorization {\n"
            f"  user: \"{NATS_USER}\"\n"
            f"  password: \"{password}\"\n"
            "  timeout: 2\n"
            "}\n")


def _go_duration(seconds: float) -> str:
    return f"{seconds:g}s"


def _nats_auth(user_key: str, password_key: str, password: str) -> dict[str, str]:
    """A NATS client's credentials under the job's own key names (none: no auth)."""
    return {user_key: NATS_USER, password_key: password} if password else {}


def gorouter_yml(cfg: FoundationConfig, nats_password: str = "") -> dict[str, Any]:
    """The router's job config with its credentials as BOSH variables: the router's start
    puts the PEM in inline (foundry/gorouter/credentials.py), as the director does."""
    t = cfg.timings
    return {
        "status": {"host": "0.0.0.0", "port": 8080, "user": "router-status",
                   "pass": "router-status", "routes": {"port": 8082}},
        "nats": {**_nats_auth("user", "pass", nats_password),
                 "hosts": [{"hostname": "nats", "port": 4222}]},
        "port": 80,
        "backends": {"max_attempts": 3, "max_conns": 500,
                     "cert_chain": "((gorouter_backend_tls.certificate))",
                     "private_key": "((gorouter_backend_tls.private_key))"},
        "ca_certs": ["((application_ca.certificate))"],
        "droplet_stale_threshold": _go_duration(t["droplet_stale_threshold"]),
        "prune_stale_droplets_interval": _go_duration(t["prune_stale_droplets_interval"]),
        "suspend_pruning_if_nats_unavailable": cfg.suspend_pruning_if_nats_unavailable,
        # register_interval unless set (BOSH renders it from the same property); the
        # router announces it as minimumRegisterIntervalInSeconds
        "start_response_delay_interval": _go_duration(t["start_response_delay_interval"]),
        "endpoint_timeout": _go_duration(t["endpoint_timeout"]),
        "balancing_algorithm": "round-robin",
        "access_log": {"file": "/var/vcap/sys/log/gorouter/access.log"},
        "log_cache_url": "http://cloud-controller:9023",  # cflab: RTR lines for `cf logs`
    }


def tls_listener(job: str, port: int, name: str) -> dict[str, str]:
    """A job's HTTPS listener: `port` on all interfaces, `name`.crt and .key from the
    job's secrets folder (foundry/pki/bundle.py names the files each job gets)."""
    secrets = f"/var/vcap/jobs/{job}/secrets"
    return {"listen_address": f"0.0.0.0:{port}", "cert_file": f"{secrets}/{name}.crt",
            "key_file": f"{secrets}/{name}.key"}


def cloud_controller_json(cfg: FoundationConfig) -> dict[str, Any]:
    secrets = "/var/vcap/jobs/cloud_controller/secrets"
    return {
        **tls_listener("cloud_controller", 9022, "cloud_controller"),
        "internal_listen_address": "0.0.0.0:9023",
        "internal_url": "http://cloud-controller:9023",
        "db_path": "/var/vcap/store/cloud_controller/cc.sqlite3",
        "bits_dir": "/var/vcap/store/cloud_controller/bits",
        "bbs_address": BBS_URL,
        **bbs_client_files("cloud_controller"),
        "system_domain": "sys.internal",
        "apps_domain": cfg.apps_domain,
        "mode": cfg.mode,
        "credhub_url": CREDHUB_URL,
        "service_broker_url": "http://service-broker:8088",
        "service_broker_username": BROKER_USER,
        "service_broker_password": BROKER_PASSWORD,
        "external_url": cc_url(cfg),
        "uaa_url": uaa_url(cfg),
        "uaa_verification_key_file": f"{secrets}/uaa_jwt_verification.crt",
        "app_ssh_endpoint": f"127.0.0.1:{cfg.ports['ssh_proxy']}",
        "app_ssh_oauth_client": "ssh-proxy",
    }


def cc_url(cfg: FoundationConfig) -> str:
    """The API as the host reaches it (published port); the CC's cert covers 127.0.0.1."""
    return f"https://127.0.0.1:{cfg.ports['cloud_controller']}"


def uaa_url(cfg: FoundationConfig) -> str:
    return f"https://127.0.0.1:{cfg.ports['uaa']}"


def ssh_proxy_json(cfg: FoundationConfig) -> dict[str, Any]:
    secrets = "/var/vcap/jobs/ssh_proxy/secrets"
    client = cfg.uaa.get("clients", {}).get("ssh-proxy", {})
    return {
        "listen_address": "0.0.0.0:2222",
        "host_key_file": f"{secrets}/host_key.key",
        "uaa_url": "https://uaa.service.cf.internal:8443",
        "uaa_client": "ssh-proxy",
        "uaa_client_secret": client.get("secret", ""),
        "uaa_redirect_uri": (client.get("redirect-uri") or ["/login"])[0],
        "cc_url": "https://api.service.cf.internal:9022",
        "ca_file": f"{secrets}/system_ca.crt",
        "bbs_address": BBS_URL,
        **bbs_client_files("ssh_proxy"),
        "backend_user": "vcap",
        "backend_key_file": f"{secrets}/backend_ssh.key",
        "session_command": "/tmp/lifecycle/ssh-session",
        "backend_tls": cfg.mode == "strict",
        "backend_cert_file": f"{secrets}/backend_tls.crt",
        "backend_key_tls_file": f"{secrets}/backend_tls.key",
        "backend_ca_file": f"{secrets}/instance_identity_ca.crt",
    }


def uaa_json(cfg: FoundationConfig) -> dict[str, Any]:
    return {
        **tls_listener("uaa", 8443, "uaa"),
        "signing_key_file": "/var/vcap/jobs/uaa/secrets/jwt_signing.key",
        "signing_key_id": "key-1",
        "url": uaa_url(cfg),
        **cfg.uaa,
    }


def credhub_json(cfg: FoundationConfig) -> dict[str, Any]:
    secrets = "/var/vcap/jobs/credhub/secrets"
    return {
        **tls_listener("credhub", 8844, "credhub"),
        "mtls_trusted_cas": f"{secrets}/mtls_trusted_cas.crt",
        "client_cas": f"{secrets}/client_cas.crt",
        "db_path": "/var/vcap/store/credhub/credhub.sqlite3",
        "broker_actors": {"service-broker": "uaa-client:service-broker"},
    }


def service_broker_json(cfg: FoundationConfig) -> dict[str, Any]:
    secrets = "/var/vcap/jobs/service_broker/secrets"
    return {
        "listen_address": "0.0.0.0:8088",
        "username": BROKER_USER,
        "password": BROKER_PASSWORD,
        "credhub_url": CREDHUB_URL,
        "cert_file": f"{secrets}/broker.crt",
        "key_file": f"{secrets}/broker.key",
        "ca_file": f"{secrets}/system_ca.crt",
        "broker_id": "cflab-broker",
        "db_path": "/var/vcap/store/service_broker/broker.sqlite3",
    }


def bbs_json(cfg: FoundationConfig) -> dict[str, Any]:
    t = cfg.timings
    secrets = "/var/vcap/jobs/bbs/secrets"
    return {
        "listen_address": "0.0.0.0:8889",
        "ca_file": f"{secrets}/ca.crt",
        "server_cert_file": f"{secrets}/bbs.crt",
        "server_key_file": f"{secrets}/bbs.key",
        "health_address": BBS_HEALTH,
        "db_path": "/var/vcap/store/bbs/bbs.sqlite3",
        "convergence_interval": t["convergence_interval"],
        "cell_presence_ttl": t["cell_presence_ttl"],
        "restart_backoff_base": t["restart_backoff_base"],
        "restart_backoff_max": t["restart_backoff_max"],
    }


def presence_refresh_s(ttl_s: float) -> float:
    """How often a rep refreshes its presence: locket's 5 s, or a third of a shorter TTL."""
    return min(PRESENCE_REFRESH_S, ttl_s / 3)


def rep_json(cfg: FoundationConfig, index: int, cell: str) -> dict[str, Any]:
    t = cfg.timings
    return {
        "cell_id": cell,
        "zone": f"z{(index - 1) % 2 + 1}",
        "bbs_address": BBS_URL,
        **bbs_client_files("rep"),
        "foundation": cfg.project,
        "foundation_subnet": str(cfg.foundation_subnet),
        "container_subnet": str(cfg.cell_subnet(index)),
        "garden_network": f"{cfg.project}_{cell}-containers",
        "stack_image": stack_image(cfg.proxy),
        **MODE_FLAGS[cfg.mode],
        "proxy_memory_allocation_mb": 32,
        "max_cpu_shares": 1024,
        "container_max_pids": 1024,
        "container_metrics_report_interval": _go_duration(t["container_metrics_report_interval"]),
        # The rep refreshes its locket presence every lock_retry_interval (Diego: 5 s,
        # TTL 15 s); a scenario's shorter TTL keeps three refreshes within it.
        "lock_retry_interval": _go_duration(presence_refresh_s(t["cell_presence_ttl"])),
        "cc_internal_url": "http://cloud-controller:9023",
        # cf-networking's policy-server-internal, served on the CC's internal port
        "policy_server_url": "http://cloud-controller:9023",
        "container_proxy_path": "/etc/cf-assets/envoy",
        "container_proxy_config_path": "/var/vcap/data/rep/proxy_config",
        "container_proxy_trusted_ca_certs": [f"{REP_SECRETS}/trusted_ca_certificates.crt"],
        "container_proxy_verify_subject_alt_name": ["gorouter.service.cf.internal",
                                                    "ssh-proxy.service.cf.internal"],
        "ssh_authorized_keys_file": f"{REP_SECRETS}/ssh_proxy_authorized_key.pub",
        "trusted_system_certificates": [f"{REP_SECRETS}/system_ca.crt"],
        "instance_identity_ca_path": f"{REP_SECRETS}/instance_identity.crt",
        "instance_identity_private_key_path": f"{REP_SECRETS}/instance_identity.key",
        "instance_identity_cred_dir": "/var/vcap/data/rep/instance_identity",
        "instance_identity_validity_period": _go_duration(t["instance_identity_validity_period"]),
        "instance_identity_key_size": cfg.key_sizes["instance_identity"],
        "envoy_config_reload_duration": _go_duration(t["configuration_reload_duration"]),
        "proxy_config_layout": cfg.proxy_config_layout,
        "port_allocator": cfg.port_allocator,
        "healthcheck_startup_interval": _go_duration(t["healthcheck_startup_interval"]),
        "healthcheck_startup_timeout": _go_duration(t["healthcheck_startup_timeout"]),
        "healthcheck_liveness_interval": _go_duration(t["healthcheck_liveness_interval"]),
        "data_dir": "/var/vcap/data/rep",
        "platform_services": [
            {"name": "credhub.service.cf.internal", "host": "credhub", "port": 8844}],
    }


def route_emitter_json(cfg: FoundationConfig, cell: str, nats_password: str = ""
                       ) -> dict[str, Any]:
    t = cfg.timings
    return {
        "cell_id": cell,
        "bbs_address": BBS_URL,
        **bbs_client_files("route_emitter"),
        "nats_servers": ["nats://nats:4222"],
        **_nats_auth("nats_username", "nats_password", nats_password),
        "sync_interval": t["sync_interval"],
        "unregistration_interval": t["unregister_resend_interval"],
        "unregistration_send_count": 20,
        "jitter_factor": 0.2,
        "greet_interval": t["greet_retry_interval"],
        "greet_max_attempts": 30,
        "poll_interval": 1.0,  # a fallback: BBS events wake the emitter at once
    }


def dashboard_json(cfg: FoundationConfig, nats_password: str = "") -> dict[str, Any]:
    """What the dashboard reads: each job's own health endpoint (a TCP connect for the
    TLS-only CredHub, broker and BBS), the BBS (with its client certificate), NATS and the
    router's access log."""
    t = cfg.timings
    return {
        "listen_address": "0.0.0.0:8300",
        "project": cfg.project,
        "mode": cfg.mode,
        "cells": cfg.cell_names,
        "bbs_address": BBS_URL,
        **bbs_client_files("dashboard"),
        "nats_servers": ["nats://nats:4222"],
        **_nats_auth("nats_username", "nats_password", nats_password),
        "access_log": "/var/vcap/sys/log/gorouter/access.log",
        # app names from the Cloud Controller, as its read-only UAA client; the CC's and
        # UAA's certificates are signed by the CA the BBS client trusts already
        "cc_url": "https://api.service.cf.internal:9022",
        "uaa_url": "https://uaa.service.cf.internal:8443",
        "uaa_client": "cflab-dashboard",
        "uaa_client_secret": cfg.uaa.get("clients", {}).get("cflab-dashboard", {}).get(
            "secret", ""),
        "cc_ca_cert_file": bbs_client_files("dashboard")["bbs_ca_cert_file"],
        "droplet_stale_threshold": t["droplet_stale_threshold"],
        "prune_stale_droplets_interval": t["prune_stale_droplets_interval"],
        "jobs": [
            {"name": "nats", "url": "http://nats:8222/healthz"},
            {"name": "router", "url": "http://router:8080/health"},
            {"name": "bbs", "url": "tcp://bbs:8889"},  # mutual TLS only; /ping is its loopback's
            {"name": "cloud-controller", "url": "http://cloud-controller:9023/healthz"},
            {"name": "credhub", "url": "tcp://credhub:8844"},
            {"name": "service-broker", "url": "tcp://service-broker:8088"},
        ],
    }


def cells_compose(cfg: FoundationConfig, docker_socket: str) -> dict[str, Any]:
    """The per-cell part of the Compose file: a cell service and its container network."""
    networks: dict[str, Any] = {}
    services: dict[str, Any] = {}
    jobs = state_dir(cfg.project) / "jobs"
    for i, cell in enumerate(cfg.cell_names, start=1):
        net = f"{cell}-containers"
        networks[net] = {
            "ipam": {"config": [{"subnet": str(cfg.cell_subnet(i))}]},
            "labels": {"cflab.foundation": cfg.project, "cflab.cell": cell},
        }
        services[cell] = job_health.checked_by_cflab({
            "image": "cflab/platform:latest",
            "init": True,
            "restart": "no",
            "labels": {"cflab.foundation": cfg.project, "cflab.cell": cell},
            "cap_add": ["NET_ADMIN"],
            "sysctls": {"net.ipv4.ip_forward": "1"},
            # cfdot's settings, as diego-release's cfdot job exports them on a Diego cell
            "environment": {"BBS_URL": BBS_URL, "CA_CERT_FILE": f"{CFDOT_CERTS}/ca.crt",
                            "CLIENT_CERT_FILE": f"{CFDOT_CERTS}/client.crt",
                            "CLIENT_KEY_FILE": f"{CFDOT_CERTS}/client.key"},
            "networks": ["foundation", net],
            "depends_on": {"bbs": {"condition": "service_started"},
                           "nats": {"condition": "service_started"},
                           "credhub": {"condition": "service_started"},
                           "pki": {"condition": "service_completed_successfully"}},
            "volumes": [
                f"{docker_socket}:/var/run/docker.sock",
                "secrets-rep:/var/vcap/jobs/rep/secrets:ro",
                "secrets-route-emitter:/var/vcap/jobs/route_emitter/secrets:ro",
                f"secrets-cfdot:{CFDOT_CERTS}:ro",
                f"{jobs / cell / 'rep'}:/var/vcap/jobs/rep/config:ro",
                f"{jobs / cell / 'route_emitter'}:/var/vcap/jobs/route_emitter/config:ro",
            ],
            "command": ["sh", "-c", "route_emitter_ctl & exec python3 -m foundry.rep"
                        " -c /var/vcap/jobs/rep/config/rep.json"],
            "healthcheck": {"test": ["CMD", "test", "-f", "/var/vcap/data/rep/ready"],
                            "interval": "60s", "timeout": "2s", "retries": 2},
        })
    return {"services": services, "networks": networks}


# hold passwords and client secrets (the NATS password, UAA clients'): 0600
SECRET_FILES = ("uaa.json", "ssh_proxy.json", "nats.conf", "gorouter.yml",
                "route_emitter.json", "dashboard.json")


def write(path: Path, text: str) -> None:
    """Write as `<name>.tmp` then rename; a file with a secret is created 0600 (no window)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    mode = 0o600 if path.name in SECRET_FILES else 0o644
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    tmp.chmod(mode)
    tmp.replace(path)


def render_all(cfg: FoundationConfig, docker_socket: str = "/var/run/docker.sock") -> list[Path]:
    """Write every rendered file; returns their paths."""
    out = state_dir(cfg.project)
    jobs = out / "jobs"
    password = nats_password(cfg.project)
    files = {
        out / "foundation.json": json.dumps(cfg.raw, indent=2, sort_keys=True) + "\n",
        out / "foundation.yml": "# generated by cflab from compose/foundation.yml; do not edit\n"
        + yaml.safe_dump(jobs_compose(), sort_keys=False),
        out / "cells.yml": "# generated by cflab from the foundation config; do not edit\n"
        + yaml.safe_dump(cells_compose(cfg, docker_socket), sort_keys=False),
        jobs / "nats" / "nats.conf": nats_conf(password),
        jobs / "gorouter" / "gorouter.yml": yaml.safe_dump(gorouter_yml(cfg, password),
                                                           sort_keys=False),
        jobs / "bbs" / "bbs.json": json.dumps(bbs_json(cfg), indent=2) + "\n",
        jobs / "cloud_controller" / "cloud_controller.json":
            json.dumps(cloud_controller_json(cfg), indent=2) + "\n",
        jobs / "credhub" / "credhub.json": json.dumps(credhub_json(cfg), indent=2) + "\n",
        jobs / "uaa" / "uaa.json": json.dumps(uaa_json(cfg), indent=2) + "\n",
        jobs / "ssh_proxy" / "ssh_proxy.json": json.dumps(ssh_proxy_json(cfg), indent=2) + "\n",
        jobs / "dashboard" / "dashboard.json":
            json.dumps(dashboard_json(cfg, password), indent=2) + "\n",
        jobs / "service_broker" / "service_broker.json":
            json.dumps(service_broker_json(cfg), indent=2) + "\n",
    }
    for i, cell in enumerate(cfg.cell_names, start=1):
        files[jobs / cell / "rep" / "rep.json"] = json.dumps(rep_json(cfg, i, cell), indent=2) + "\n"
        files[jobs / cell / "route_emitter" / "route_emitter.json"] = json.dumps(
            route_emitter_json(cfg, cell, password), indent=2) + "\n"
    for path, text in files.items():
        write(path, text)
    return list(files)


def jobs_compose() -> dict[str, Any]:
    """compose/foundation.yml as Compose runs it: each job's health check run by cflab,
    not Docker (`job_health.checked_by_cflab`); CFLAB_* variables left for Compose."""
    doc = yaml.safe_load(COMPOSE_FILE.read_text())
    doc["services"] = {name: job_health.checked_by_cflab(svc)
                       for name, svc in doc["services"].items()}
    return doc


def compose_files(project: str) -> list[Path]:
    """The rendered jobs and cells files (before any render, the source file alone)."""
    jobs, cells = state_dir(project) / "foundation.yml", state_dir(project) / "cells.yml"
    return [jobs if jobs.exists() else COMPOSE_FILE, *([cells] if cells.exists() else [])]
