"""`python3 -m foundry.uaa -c /var/vcap/jobs/uaa/config/uaa.json`."""

from __future__ import annotations

import sys

from foundry.httpserver import server_context
from foundry.jobconfig import start_job
from foundry.jobmain import Action, serve_until_signalled, serving
from foundry.uaa.config import ConfigError, UAAConfig, load
from foundry.uaa.jwt import SigningKey
from foundry.uaa.server import listen
from foundry.uaa.service import UAA

DEFAULT_CONFIG = "/var/vcap/jobs/uaa/config/uaa.json"


def build(cfg: UAAConfig) -> tuple[Action, Action]:
    with open(cfg.signing_key_file, "rb") as f:
        key = SigningKey.from_pem(cfg.signing_key_id, f.read())
    tls = server_context(cfg.cert_file, cfg.key_file) if cfg.cert_file else None
    server = listen(cfg.address, UAA(cfg, key), tls)
    return serving(server, "uaa", f"uaa listening on {server.server_address} (issuer "
                   f"{cfg.issuer}, {len(cfg.users)} users, {len(cfg.clients)} clients)")


def main(argv: list[str] | None = None) -> int:
    cfg = start_job("uaa", __doc__, DEFAULT_CONFIG, load, ConfigError, argv)
    return serve_until_signalled("uaa", lambda: build(cfg))


if __name__ == "__main__":
    sys.exit(main())
