"""`python3 -m foundry.credhub -c /var/vcap/jobs/credhub/config/credhub.json`."""

from __future__ import annotations

import logging
import os
import sys

from foundry.credhub.api import CredHubAPI
from foundry.credhub.auth import Authenticator
from foundry.credhub.config import ConfigError, CredHubConfig, load
from foundry.credhub.server import listen
from foundry.credhub.store import Store
from foundry.credhub.tls import server_context
from foundry.jobconfig import start_job
from foundry.jobmain import Action, serve_until_signalled, serving

DEFAULT_CONFIG = "/var/vcap/jobs/credhub/config/credhub.json"


def _certs(path: str) -> tuple:
    if not path:
        return ()
    from foundry.pki.ca import load_certificates

    with open(path, "rb") as f:
        return tuple(load_certificates(f.read()))


def build(cfg: CredHubConfig) -> tuple[Action, Action]:
    auth = Authenticator(_certs(cfg.mtls_trusted_cas), _certs(cfg.client_cas),
                         tuple(sorted(cfg.broker_actors.items())))
    os.makedirs(os.path.dirname(os.path.abspath(cfg.db_path)), exist_ok=True)
    store = Store(cfg.db_path)
    tls, _ = server_context(cfg.cert_file, cfg.key_file, [cfg.mtls_trusted_cas, cfg.client_cas])
    server = listen(cfg.address, CredHubAPI(store, auth.creators), auth, tls)
    host, port = server.server_address[:2]
    return serving(server, "credhub", f"credhub listening on https://{host}:{port} (trusted "
                   f"instance CAs: {len(auth.instance_roots)}, client CAs: "
                   f"{len(auth.client_roots)})", store.close)


def main(argv: list[str] | None = None) -> int:
    cfg = start_job("credhub", __doc__, DEFAULT_CONFIG, load, ConfigError, argv)
    logging.getLogger().setLevel(getattr(logging, cfg.log_level.upper(), logging.INFO))
    return serve_until_signalled("credhub", lambda: build(cfg))


if __name__ == "__main__":
    sys.exit(main())
