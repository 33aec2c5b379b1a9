"""`python3 -m foundry.uaa -c /var/vcap/jobs/uaa/config/uaa.json`."""

from __future__ import annotations

import logging
import sys
import threading

from foundry.jobconfig import start_job
from foundry.jobmain import Action, serve_until_signalled
from foundry.uaa.config import ConfigError, UAAConfig, load
from foundry.uaa.jwt import SigningKey
from foundry.uaa.server import UAAServer, tls_context
from foundry.uaa.service import UAA

DEFAULT_CONFIG = "/var/vcap/jobs/uaa/config/uaa.json"


def build(cfg: UAAConfig) -> tuple[Action, Action]:
    with open(cfg.signing_key_file, "rb") as f:
        key = SigningKey.from_pem(cfg.signing_key_id, f.read())
    tls = tls_context(cfg.cert_file, cfg.key_file) if cfg.cert_file else None
    server = UAAServer(cfg.address, UAA(cfg, key), tls)

    def start() -> None:
        threading.Thread(target=server.serve_forever, name="uaa", daemon=True).start()
        logging.getLogger("uaa").info("uaa listening on %s (issuer %s, %d users, %d clients)",
                                      server.server_address, cfg.issuer, len(cfg.users),
                                      len(cfg.clients))

    def stop() -> None:
        server.shutdown()
        server.server_close()
    return start, stop


def main(argv: list[str] | None = None) -> int:
    cfg = start_job("uaa", __doc__, DEFAULT_CONFIG, load, ConfigError, argv)
    return serve_until_signalled("uaa", lambda: build(cfg))


if __name__ == "__main__":
    sys.exit(main())
