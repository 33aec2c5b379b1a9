"""`python3 -m foundry.uaa -c /var/vcap/jobs/uaa/config/uaa.json`."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from foundry.jobconfig import split_host_port, start_job
from foundry.uaa.config import ConfigError, load
from foundry.uaa.jwt import SigningKey
from foundry.uaa.server import UAAServer, tls_context
from foundry.uaa.service import UAA

DEFAULT_CONFIG = "/var/vcap/jobs/uaa/config/uaa.json"


def main(argv: list[str] | None = None) -> int:
    cfg = start_job("uaa", __doc__, DEFAULT_CONFIG, load, ConfigError, argv)
    try:
        with open(cfg.signing_key_file, "rb") as f:
            key = SigningKey.from_pem(cfg.signing_key_id, f.read())
        tls = tls_context(cfg.cert_file, cfg.key_file) if cfg.cert_file else None
        server = UAAServer(split_host_port(cfg.listen_address), UAA(cfg, key), tls)
    except (OSError, ValueError) as e:
        print(f"uaa: cannot start: {e}", file=sys.stderr)
        return 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    thread = threading.Thread(target=server.serve_forever, name="uaa", daemon=True)
    thread.start()
    log = logging.getLogger("uaa")
    log.info("uaa listening on %s (issuer %s, %d users, %d clients)", server.server_address,
             cfg.issuer, len(cfg.users), len(cfg.clients))
    done.wait()
    server.shutdown()
    server.server_close()
    log.info("uaa stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
