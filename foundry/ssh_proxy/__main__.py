"""`python3 -m foundry.ssh_proxy -c /var/vcap/jobs/ssh_proxy/config/ssh_proxy.json`."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import sys
import urllib.error
import urllib.request

import asyncssh

from foundry.bbs.client import client_tls
from foundry.jobconfig import start_job
from foundry.ssh_proxy.access import Authenticator
from foundry.ssh_proxy.config import ConfigError, SSHProxyConfig, load
from foundry.ssh_proxy.server import Backend, serve

DEFAULT_CONFIG = "/var/vcap/jobs/ssh_proxy/config/ssh_proxy.json"
log = logging.getLogger("ssh_proxy")


def http_client(ca_file: str, timeout: float, bbs_address: str = "",
                bbs_tls: ssl.SSLContext | None = None):
    """UAA and the CC through the system CA; the BBS (URLs under `bbs_address`) with the
    proxy's BBS client certificate, as diego's ssh_proxy holds one."""
    ctx = ssl.create_default_context(cafile=ca_file or None)

    def context_for(url: str) -> ssl.SSLContext | None:
        if bbs_tls is not None and bbs_address and url.startswith(bbs_address.rstrip("/")):
            return bbs_tls
        return ctx if url.startswith("https") else None

    def call(method: str, url: str, headers: dict[str, str],
             body: bytes | None) -> tuple[int, bytes]:
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=context_for(url)) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            log.info("%s %s failed: %s", method, url.split("?")[0], getattr(e, "reason", e))
            return 599, b""
    return call


def backend_tls(cfg: SSHProxyConfig) -> ssl.SSLContext | None:
    if not cfg.backend_tls:
        return None
    ctx = ssl.create_default_context(cafile=cfg.backend_ca_file)
    ctx.load_cert_chain(cfg.backend_cert_file, cfg.backend_key_tls_file)
    return ctx


async def run(cfg: SSHProxyConfig) -> int:
    host_key = asyncssh.read_private_key(cfg.host_key_file)
    backend = Backend(cfg.backend_user, asyncssh.read_private_key(cfg.backend_key_file),
                      backend_tls(cfg), cfg.timeout, cfg.session_command)
    bbs_tls = client_tls(cfg.bbs_ca_cert_file, cfg.bbs_client_cert_file,
                         cfg.bbs_client_key_file) if cfg.bbs_address.startswith("https:") else None
    auth = Authenticator(http_client(cfg.ca_file, cfg.timeout, cfg.bbs_address, bbs_tls),
                         cfg.uaa_url, cfg.uaa_client,
                         cfg.uaa_client_secret, cfg.uaa_redirect_uri, cfg.cc_url,
                         cfg.bbs_address, cfg.backend_tls)
    host, port = cfg.address
    server = await serve(host, port, host_key, auth, backend)
    log.info("ssh-proxy listening on %s:%d (backend %s)", host, port,
             "TLS through the instance proxy" if cfg.backend_tls else "plain")
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    server.close()
    log.info("ssh-proxy stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    cfg = start_job("ssh_proxy", __doc__, DEFAULT_CONFIG, load, ConfigError, argv)
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    try:
        return asyncio.run(run(cfg))
    except (OSError, ValueError, asyncssh.Error) as e:
        print(f"ssh_proxy: cannot start: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
