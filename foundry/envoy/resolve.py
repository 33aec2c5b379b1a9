"""Join listeners with the secrets they reference (sans-IO).

A listener's TLS may point at SDS secrets by name and file; the runtime keeps the
last good secrets per file and asks this module for the effective TLS material.
"""

from __future__ import annotations

from .model import ConfigError, DownstreamTls, Listener, ResolvedTls, SdsRef, Secret

# Secrets by SDS file path; key None holds static_resources.secrets.
SecretStore = dict[str | None, dict[str, Secret]]


def _lookup(store: SecretStore, ref: SdsRef, path: str) -> Secret:
    secrets = store.get(ref.path)
    where = ref.path or "static_resources.secrets"
    if secrets is None:
        raise ConfigError(path, f"secret {ref.name!r}: {where} has not been loaded")
    if ref.name not in secrets:
        raise ConfigError(path, f"secret {ref.name!r} not found in {where}")
    return secrets[ref.name]


def resolve_tls(tls: DownstreamTls, store: SecretStore, path: str) -> ResolvedTls:
    if tls.certificates:
        cert = tls.certificates[0]
    else:
        secret = _lookup(store, tls.certificate_sds[0], f"{path}.tls_certificate_sds_secret_configs[0]")
        if secret.tls_certificate is None:
            raise ConfigError(path, f"secret {secret.name!r} has no tls_certificate")
        cert = secret.tls_certificate
    validation = tls.validation
    if tls.validation_sds is not None:
        secret = _lookup(store, tls.validation_sds, f"{path}.validation_context_sds_secret_config")
        if secret.validation_context is None:
            raise ConfigError(path, f"secret {secret.name!r} has no validation_context")
        validation = secret.validation_context
    if tls.require_client_certificate and (validation is None or not validation.trusted_ca_pem):
        raise ConfigError(path, "require_client_certificate needs a trusted_ca")
    return ResolvedTls(tls.params, cert, validation, tls.require_client_certificate,
                       tls.alpn, tls.session_tickets)


def sds_paths(listeners: tuple[Listener, ...]) -> dict[str, set[str]]:
    """SDS file path -> secret names referenced from it (for watching and stats)."""
    out: dict[str, set[str]] = {}
    for listener in listeners:
        if listener.tls:
            for ref in listener.tls.sds_refs:
                if ref.path:
                    out.setdefault(ref.path, set()).add(ref.name)
    return out
