"""`python3 -m foundry.credhub -c /var/vcap/jobs/credhub/config/credhub.json`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from foundry.credhub.api import CredHubAPI
from foundry.credhub.auth import Authenticator
from foundry.credhub.config import ConfigError, load
from foundry.credhub.server import CredHubServer
from foundry.credhub.store import Store
from foundry.credhub.tls import server_context

DEFAULT_CONFIG = "/var/vcap/jobs/credhub/config/credhub.json"


def _certs(path: str) -> tuple:
    if not path:
        return ()
    from foundry.pki.ca import load_certificates

    with open(path, "rb") as f:
        return tuple(load_certificates(f.read()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="credhub", description=__doc__)
    parser.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="path to credhub.json")
    args = parser.parse_args(argv)
    try:
        cfg = load(args.config)
    except ConfigError as e:
        print(f"credhub: config error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, cfg.log_level.upper(),
                                                          logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("credhub")
    try:
        auth = Authenticator(_certs(cfg.mtls_trusted_cas), _certs(cfg.client_cas),
                             tuple(sorted(cfg.broker_actors.items())))
        db_dir = os.path.dirname(os.path.abspath(cfg.db_path))
        os.makedirs(db_dir, exist_ok=True)
        store = Store(cfg.db_path)
        tls, _ = server_context(cfg.cert_file, cfg.key_file, [cfg.mtls_trusted_cas,
                                                              cfg.client_cas])
        server = CredHubServer(cfg.address, CredHubAPI(store, auth.creators), auth, tls)
    except (OSError, ValueError) as e:
        print(f"credhub: cannot start: {e}", file=sys.stderr)
        return 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server.start()
    log.info("credhub listening on https://%s:%d (trusted instance CAs: %d, client CAs: %d)",
             *server.server_address[:2], len(auth.instance_roots), len(auth.client_roots))
    done.wait()
    server.shutdown()
    server.server_close()
    store.close()
    log.info("credhub stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
