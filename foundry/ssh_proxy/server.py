"""The SSH edge: asyncssh serves clients and opens one backend connection per client.

A client authenticates with a password (the one-time code); the proxy then connects
to the instance's sshd as `vcap` with the key the cells authorize, and each session
(shell, command, pty) is relayed to a session of the same kind there, exit status
included. In strict mode the backend connection runs inside TLS to the instance's
proxy port for 2222, with the proxy's client certificate, checking that the
instance identity certificate names the instance it meant to reach.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import ssl
from typing import Any

import asyncssh

from foundry.ssh_proxy.access import Authenticator, Denied, Target

log = logging.getLogger("ssh_proxy")


class TLSTunnel:
    """asyncssh's `tunnel=`: the SSH stream runs inside TLS to the instance's proxy port,
    which must present a certificate for the instance guid the proxy meant to reach."""

    def __init__(self, ctx: ssl.SSLContext, server_name: str) -> None:
        self.ctx, self.server_name = ctx, server_name

    async def create_connection(self, protocol_factory: Any, host: str,
                                port: int) -> tuple[asyncio.BaseTransport, Any]:
        return await asyncio.get_running_loop().create_connection(
            protocol_factory, host, port, ssl=self.ctx, server_hostname=self.server_name)


class Backend:
    """How to reach instances: the key `vcap` logs in with, TLS settings in strict mode."""

    def __init__(self, user: str, key: asyncssh.SSHKey, tls: ssl.SSLContext | None,
                 timeout: float, session_command: str = "") -> None:
        self.user, self.key, self.tls, self.timeout = user, key, tls, timeout
        self.session_command = session_command

    def command(self, requested: str | None) -> str | None:
        """What the instance's sshd runs: the session wrapper (the instance's environment,
        then bash) around the client's command, or the client's command as it is."""
        if not self.session_command:
            return requested
        if requested is None:
            return self.session_command
        return f"{self.session_command} -c {shlex.quote(requested)}"

    async def connect(self, target: Target) -> asyncssh.SSHClientConnection:
        # The instance's host key is not pinned (Diego pins it from the desired LRP's
        # diego-ssh route); in strict mode the TLS check names the instance instead.
        opts: dict[str, Any] = {"username": self.user, "client_keys": [self.key],
                                "known_hosts": None, "agent_path": None,
                                "connect_timeout": self.timeout}
        if target.tls and self.tls is not None:
            opts["tunnel"] = TLSTunnel(self.tls, target.instance_guid)
        return await asyncssh.connect(target.host, target.port, **opts)


class ProxyServer(asyncssh.SSHServer):
    def __init__(self, auth: Authenticator, backend: Backend) -> None:
        self.auth, self.backend_cfg = auth, backend
        self.target: Target | None = None
        self.peer = "-"
        self._backend: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        peer = conn.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "-"

    def connection_lost(self, exc: Exception | None) -> None:
        if self._backend is not None:
            self._backend.close()

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        try:
            self.target = await asyncio.to_thread(self.auth.authenticate, username, password)
        except Denied as e:
            log.info("%s: authentication as %r refused: %s", self.peer, username[:80], e)
            return False
        log.info("%s: %s authenticated for %s/%d at %s:%d%s", self.peer, username,
                 self.target.process_guid, self.target.index, self.target.host,
                 self.target.port, " (tls)" if self.target.tls else "")
        return True

    async def backend(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._backend is None:
                assert self.target is not None
                self._backend = await self.backend_cfg.connect(self.target)
            return self._backend


async def relay(process: asyncssh.SSHServerProcess) -> None:
    """One client session → the same session on the instance, until it exits."""
    owner: ProxyServer = process.get_extra_info("connection").get_owner()
    try:
        backend = await owner.backend()
        upstream = await backend.create_process(
            owner.backend_cfg.command(process.command), term_type=process.term_type, term_size=process.term_size,
            term_modes=process.term_modes or (), encoding=None, request_pty="auto")
    except (TimeoutError, OSError, asyncssh.Error) as e:
        log.info("%s: cannot reach the instance: %s", owner.peer, e)
        process.stderr.write(b"ssh-proxy: cannot reach the instance\r\n")
        process.exit(255)
        return
    await process.redirect(stdin=upstream.stdin, stdout=upstream.stdout,
                           stderr=upstream.stderr)
    await upstream.wait_closed()
    if upstream.exit_signal:
        sig, core, msg, lang = upstream.exit_signal
        process.exit_with_signal(sig, core, msg, lang)
    else:
        process.exit(upstream.returncode or 0)


async def serve(host: str, port: int, host_key: asyncssh.SSHKey, auth: Authenticator,
                backend: Backend) -> asyncssh.SSHAcceptor:
    return await asyncssh.create_server(
        lambda: ProxyServer(auth, backend), host, port, server_host_keys=[host_key],
        process_factory=relay, encoding=None, login_timeout=60,
        server_version="cflab-ssh-proxy")
