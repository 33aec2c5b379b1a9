"""An Envoy-like sidecar proxy for app containers (TLS-terminating TCP proxy).

Reads the executor's Envoy config (bootstrap + LDS file or SDS files), serves
Envoy's admin API, and reloads certificates without dropping connections.
Depends only on the stdlib, PyYAML and cryptography (uvloop when present).
"""
