"""Typed view of the subset of Envoy's configuration the proxy implements.

Parsing (``config.py``) turns YAML documents into these frozen values, so the
I/O edge never looks at raw dicts and a reload can compare old and new values
with ``==`` to decide what actually changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ConfigError(ValueError):
    """A configuration document is invalid; the message starts with the field path."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.detail = message
        super().__init__(f"{path}: {message}" if path else message)


@dataclass(frozen=True)
class SocketAddress:
    address: str
    port: int

    @property
    def stat_name(self) -> str:
        """Envoy's stats spelling of an address: ``0.0.0.0_61001``."""
        return f"{self.address}_{self.port}"

    def __str__(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass(frozen=True)
class StringMatcher:
    """Envoy's StringMatcher (exact / prefix / suffix / contains / safe_regex)."""

    kind: str
    value: str
    ignore_case: bool = False


@dataclass(frozen=True)
class TlsCertificate:
    chain_pem: bytes
    key_pem: bytes
    chain_path: str = "<inline>"


@dataclass(frozen=True)
class ValidationContext:
    trusted_ca_pem: bytes | None
    san_matchers: tuple[StringMatcher, ...] = ()
    trusted_ca_path: str = "<inline>"


@dataclass(frozen=True)
class SdsRef:
    """A secret by name, from an SDS file (``path``) or static_resources.secrets."""

    name: str
    path: str | None


@dataclass(frozen=True)
class TlsParams:
    cipher_list: str  # OpenSSL syntax, already validated
    server_preference: bool
    min_version: str = "TLSv1_2"
    max_version: str = "TLSv1_3"
    ecdh_curves: tuple[str, ...] = ()


@dataclass(frozen=True)
class DownstreamTls:
    params: TlsParams
    certificates: tuple[TlsCertificate, ...] = ()
    certificate_sds: tuple[SdsRef, ...] = ()
    validation: ValidationContext | None = None
    validation_sds: SdsRef | None = None
    require_client_certificate: bool = False
    alpn: tuple[str, ...] = ()
    session_tickets: bool = True

    @property
    def sds_refs(self) -> tuple[SdsRef, ...]:
        refs = self.certificate_sds
        return refs + ((self.validation_sds,) if self.validation_sds else ())


@dataclass(frozen=True)
class ResolvedTls:
    """Downstream TLS with every SDS reference replaced by the secret's content."""

    params: TlsParams
    certificate: TlsCertificate
    validation: ValidationContext | None
    require_client_certificate: bool
    alpn: tuple[str, ...]
    session_tickets: bool


@dataclass(frozen=True)
class TcpProxy:
    stat_prefix: str
    cluster: str
    idle_timeout: float | None = None


@dataclass(frozen=True)
class Listener:
    name: str
    address: SocketAddress
    tcp_proxy: TcpProxy
    tls: DownstreamTls | None = None
    handshake_timeout: float = 10.0
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Cluster:
    name: str
    connect_timeout: float
    endpoints: tuple[SocketAddress, ...]
    kind: str = "STATIC"


@dataclass(frozen=True)
class Secret:
    name: str
    tls_certificate: TlsCertificate | None = None
    validation_context: ValidationContext | None = None


@dataclass(frozen=True)
class LdsSource:
    path: str


@dataclass(frozen=True)
class Bootstrap:
    admin: SocketAddress | None
    clusters: dict[str, Cluster]
    listeners: tuple[Listener, ...]
    lds: LdsSource | None
    secrets: dict[str, Secret]
    node_id: str = ""
    node_cluster: str = ""
    raw: dict = field(default_factory=dict, compare=False, repr=False)
