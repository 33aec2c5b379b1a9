"""The foundation's secrets, generated once and split per job.

Plays CredHub generating cf-deployment's variables: every CA and job
certificate is made on the first run and kept under `pki/`; each job then gets
a directory with only what it needs (`JOB_FILES`). The root CA keys never leave
`pki/`; the instance-identity intermediate key goes only to the cells.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from foundry.pki.ca import Credential, issue_leaf, new_ca

GOROUTER_SAN = "gorouter.service.cf.internal"
CREDHUB_HOST = "credhub.service.cf.internal"
CLOUD_CONTROLLER_HOST = "api.service.cf.internal"
UAA_HOST = "uaa.service.cf.internal"
SSH_PROXY_SAN = "ssh-proxy.service.cf.internal"
BBS_HOST = "bbs.service.cf.internal"
BROKER_CLIENT = "service-broker"  # CredHub's actor for it: uaa-client:service-broker

KEY_MODE = 0o600
CERT_MODE = 0o644
DIR_MODE = 0o750


@dataclass(frozen=True)
class Secrets:
    """Every credential of a foundation, by cf-deployment variable name."""

    application_ca: Credential  # root of instance identity (appRootCA)
    diego_instance_identity_ca: Credential  # intermediate the cells sign with
    gorouter_backend_tls_ca: Credential
    gorouter_backend_tls: Credential  # the router's client certificate
    service_cf_internal_ca: Credential
    credhub_tls: Credential
    cloud_controller_tls: Credential
    service_broker_client: Credential  # the sample broker's client cert for CredHub
    uaa_ssl: Credential  # UAA's TLS certificate
    uaa_jwt_signing: Credential  # UAA's jwt.token.signing-key (its cert carries the public key)
    ssh_proxy_host_key: Credential  # the ssh-proxy's SSH host key (the cert is unused)
    ssh_proxy_backend_key: Credential  # logs the proxy in to instances' sshd as vcap
    ssh_proxy_backend_tls: Credential  # the proxy's client cert for instances' TLS proxies
    diego_bbs_server: Credential  # the BBS's server certificate (mutual TLS)
    diego_bbs_client: Credential  # what rep, route emitter, CC, cfdot... present to the BBS
    host_bbs_client: Credential  # the host user's cfdot (`make up` copies it out)

    def named(self) -> dict[str, Credential]:
        return dict(self.__dict__)


CAS = ("application_ca", "diego_instance_identity_ca", "gorouter_backend_tls_ca",
       "service_cf_internal_ca")


def generate(key_size: int = 2048, now: dt.datetime | None = None,
             existing: dict[str, Credential] | None = None) -> Secrets:
    """Every credential; those in `existing` are kept (a foundation made before a
    credential was added gets only the new one, issued by its existing CAs)."""
    have = dict(existing or {})
    if not all(name in have for name in CAS):
        have = {}  # a missing CA: everything it signed goes too

    def make(name: str, factory: Callable[[], Credential]) -> Credential:
        if name not in have:
            have[name] = factory()
        return have[name]

    def leaf(issuer: Credential, cn: str, **kw) -> Callable[[], Credential]:
        return lambda: issue_leaf(issuer, cn, key_size=key_size, now=now, **kw)

    app_root = make("application_ca", lambda: new_ca("appRootCA", key_size=key_size, now=now))
    identity = make("diego_instance_identity_ca", lambda: new_ca(
        "instanceIdentityCA", issuer=app_root, key_size=key_size, now=now))
    backend_ca = make("gorouter_backend_tls_ca", lambda: new_ca(
        "gorouterBackendTlsCA", key_size=key_size, now=now))
    service_ca = make("service_cf_internal_ca", lambda: new_ca(
        "serviceCfInternalCA", key_size=key_size, now=now))
    return Secrets(
        application_ca=app_root,
        diego_instance_identity_ca=identity,
        gorouter_backend_tls_ca=backend_ca,
        gorouter_backend_tls=make("gorouter_backend_tls", leaf(
            backend_ca, GOROUTER_SAN, dns_names=[GOROUTER_SAN],
            server_auth=False, client_auth=True)),
        service_cf_internal_ca=service_ca,
        credhub_tls=make("credhub_tls", leaf(
            service_ca, CREDHUB_HOST, dns_names=[CREDHUB_HOST, "credhub", "localhost"],
            ip_addresses=["127.0.0.1"])),
        cloud_controller_tls=make("cloud_controller_tls", leaf(
            service_ca, CLOUD_CONTROLLER_HOST,
            dns_names=[CLOUD_CONTROLLER_HOST, "cloud_controller", "cloud-controller",
                       "localhost"],
            ip_addresses=["127.0.0.1"])),
        service_broker_client=make("service_broker_client", leaf(
            service_ca, BROKER_CLIENT, dns_names=[BROKER_CLIENT], server_auth=True,
            client_auth=True)),
        uaa_ssl=make("uaa_ssl", leaf(
            service_ca, UAA_HOST, dns_names=[UAA_HOST, "uaa", "localhost"],
            ip_addresses=["127.0.0.1"])),
        uaa_jwt_signing=make("uaa_jwt_signing", leaf(
            service_ca, "uaa-jwt-signing", server_auth=False)),
        ssh_proxy_host_key=make("ssh_proxy_host_key", leaf(
            service_ca, "ssh-proxy-host-key", server_auth=False)),
        ssh_proxy_backend_key=make("ssh_proxy_backend_key", leaf(
            service_ca, "ssh-proxy-backend-key", server_auth=False)),
        ssh_proxy_backend_tls=make("ssh_proxy_backend_tls", leaf(
            backend_ca, SSH_PROXY_SAN, dns_names=[SSH_PROXY_SAN],
            server_auth=False, client_auth=True)),
        # cf-deployment's diego_bbs_server / diego_bbs_client, both under
        # service_cf_internal_ca: the BBS demands a client certificate from that CA.
        diego_bbs_server=make("diego_bbs_server", leaf(
            service_ca, BBS_HOST, dns_names=[BBS_HOST, f"*.{BBS_HOST}", "bbs", "localhost"],
            ip_addresses=["127.0.0.1"], server_auth=True, client_auth=True)),
        diego_bbs_client=make("diego_bbs_client", leaf(
            service_ca, "bbs_client", server_auth=False, client_auth=True)),
        # cflab's own: the host user's cfdot, a certificate apart from the jobs' one
        host_bbs_client=make("host_bbs_client", leaf(
            service_ca, "cflab-host-cfdot", server_auth=False, client_auth=True)),
    )


def _cert(name: str) -> Callable[[Secrets], bytes]:
    return lambda s: s.named()[name].cert_pem


def _chain(name: str) -> Callable[[Secrets], bytes]:
    return lambda s: s.named()[name].chain_pem


def _key(name: str) -> Callable[[Secrets], bytes]:
    return lambda s: s.named()[name].key_pem


def _openssh_public(name: str) -> Callable[[Secrets], bytes]:
    """An authorized_keys line for the credential's key (what cells give instances' sshd)."""
    return lambda s: s.named()[name].key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH) + b" ssh-proxy\n"


# What every BBS client job gets (diego-release's bbs_ca_cert / bbs_client_cert / key).
BBS_CLIENT_FILES: dict[str, Callable[[Secrets], bytes]] = {
    "bbs_ca.crt": _cert("service_cf_internal_ca"),
    "bbs_client.crt": _chain("diego_bbs_client"),
    "bbs_client.key": _key("diego_bbs_client"),
}

# job -> file name -> content. Keys end in `.key` and get mode 0600.
JOB_FILES: dict[str, dict[str, Callable[[Secrets], bytes]]] = {
    "gorouter": {
        "ca_certs.crt": _cert("application_ca"),
        "backends.crt": _chain("gorouter_backend_tls"),
        "backends.key": _key("gorouter_backend_tls"),
    },
    "rep": {
        "instance_identity.crt": _cert("diego_instance_identity_ca"),
        "instance_identity.key": _key("diego_instance_identity_ca"),
        "application_ca.crt": _cert("application_ca"),
        "trusted_ca_certificates.crt": _cert("gorouter_backend_tls_ca"),
        "system_ca.crt": _cert("service_cf_internal_ca"),
        "ssh_proxy_authorized_key.pub": _openssh_public("ssh_proxy_backend_key"),
        **BBS_CLIENT_FILES,
    },
    "route_emitter": dict(BBS_CLIENT_FILES),
    # diego-release's cfdot job: config/certs/cfdot/{ca.crt,client.crt,client.key}
    "cfdot": {
        "ca.crt": _cert("service_cf_internal_ca"),
        "client.crt": _chain("diego_bbs_client"),
        "client.key": _key("diego_bbs_client"),
    },
    "bbs": {
        "bbs.crt": _chain("diego_bbs_server"),
        "bbs.key": _key("diego_bbs_server"),
        "ca.crt": _cert("service_cf_internal_ca"),
    },
    "dashboard": dict(BBS_CLIENT_FILES),
    # the host user's cfdot; `cflab up` copies these out of the PKI step's container
    "host": {
        "ca.crt": _cert("service_cf_internal_ca"),
        "client.crt": _chain("host_bbs_client"),
        "client.key": _key("host_bbs_client"),
    },
    "credhub": {
        "credhub.crt": _chain("credhub_tls"),
        "credhub.key": _key("credhub_tls"),
        "mtls_trusted_cas.crt": _cert("application_ca"),
        "client_cas.crt": _cert("service_cf_internal_ca"),
    },
    "service_broker": {
        "broker.crt": _chain("service_broker_client"),
        "broker.key": _key("service_broker_client"),
        "system_ca.crt": _cert("service_cf_internal_ca"),
    },
    "cloud_controller": {
        "cloud_controller.crt": _chain("cloud_controller_tls"),
        "cloud_controller.key": _key("cloud_controller_tls"),
        "system_ca.crt": _cert("service_cf_internal_ca"),
        "uaa_jwt_verification.crt": _cert("uaa_jwt_signing"),
        **BBS_CLIENT_FILES,
    },
    "uaa": {
        "uaa.crt": _chain("uaa_ssl"),
        "uaa.key": _key("uaa_ssl"),
        "jwt_signing.key": _key("uaa_jwt_signing"),
        "system_ca.crt": _cert("service_cf_internal_ca"),
    },
    "ssh_proxy": {
        "host_key.key": _key("ssh_proxy_host_key"),
        "backend_ssh.key": _key("ssh_proxy_backend_key"),
        "backend_tls.crt": _chain("ssh_proxy_backend_tls"),
        "backend_tls.key": _key("ssh_proxy_backend_tls"),
        "instance_identity_ca.crt": _cert("application_ca"),
        "system_ca.crt": _cert("service_cf_internal_ca"),
        **BBS_CLIENT_FILES,
    },
}


def write_file(path: Path, data: bytes, mode: int) -> None:
    """Write as `<name>.tmp` then rename, created with its final mode (no window)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def file_mode(name: str) -> int:
    return KEY_MODE if name.endswith(".key") else CERT_MODE


def save(secrets: Secrets, pki_dir: Path) -> None:
    pki_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(pki_dir, 0o700)
    for name, cred in secrets.named().items():
        write_file(pki_dir / f"{name}.crt", cred.chain_pem, CERT_MODE)
        write_file(pki_dir / f"{name}.key", cred.key_pem, KEY_MODE)


def load_saved(pki_dir: Path) -> dict[str, Credential]:
    """The credentials saved so far, by name (empty before the first run)."""
    saved = {}
    for name in Secrets.__dataclass_fields__:
        cert, key = pki_dir / f"{name}.crt", pki_dir / f"{name}.key"
        if cert.exists() and key.exists():
            saved[name] = Credential.from_pem(cert.read_bytes(), key.read_bytes())
    return saved


def load(pki_dir: Path) -> Secrets | None:
    """The saved secrets, or None when the PKI step has not run yet (or lacks one)."""
    saved = load_saved(pki_dir)
    return Secrets(**saved) if len(saved) == len(Secrets.__dataclass_fields__) else None


def distribute(secrets: Secrets, root: Path, jobs: list[str] | None = None) -> list[Path]:
    """Write each job's files under `root/<job>/`; returns the paths written."""
    written = []
    for job in jobs or list(JOB_FILES):
        job_dir = root / job
        job_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(job_dir, DIR_MODE)
        for name, content in JOB_FILES[job].items():
            path = job_dir / name
            write_file(path, content(secrets), file_mode(name))
            written.append(path)
    return written


def init(root: Path, key_size: int = 2048) -> tuple[Secrets, bool]:
    """Create the PKI under `root/pki` once (later runs add only credentials it lacks),
    then (re)write every job's directory. `created` is True when the CAs are new."""
    pki_dir = root / "pki"
    saved = load_saved(pki_dir)
    created = not all(name in saved for name in CAS)
    secrets = generate(key_size=key_size, existing=saved)
    if len(saved) < len(Secrets.__dataclass_fields__) or created:
        save(secrets, pki_dir)
    distribute(secrets, root)
    return secrets, created
