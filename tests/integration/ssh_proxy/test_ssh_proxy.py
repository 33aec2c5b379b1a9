"""A real OpenSSH client through the ssh-proxy to an instance's sshd, over loopback.

The instance's sshd is an asyncssh server that authorizes only the proxy's backend
key; in the TLS case it sits behind a TLS terminator that demands a client
certificate, as the instance's proxy does for port 2222 in strict mode.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import subprocess
import threading

import pytest

asyncssh = pytest.importorskip("asyncssh")

from foundry.pki import ca as pki  # noqa: E402
from foundry.ssh_proxy.access import Denied, Target  # noqa: E402
from foundry.ssh_proxy.server import Backend, serve  # noqa: E402
from tests.support import free_port  # noqa: E402

GUID = "4e1e2f5a-0000-4000-8000-0000000000aa"
pytestmark = pytest.mark.skipif(shutil.which("ssh") is None, reason="needs OpenSSH's ssh")


class Instance(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True


async def instance_session(process: asyncssh.SSHServerProcess) -> None:
    if process.command:
        process.stdout.write(f"ran: {process.command} as {process.get_extra_info('username')}"
                             "\n")
        process.exit(3)
    else:
        process.stdout.write(f"shell {process.term_type}\n")
        process.exit(0)


class Stub:
    def __init__(self, target: Target) -> None:
        self.target = target

    def authenticate(self, username: str, code: str) -> Target:
        if (username, code) != (f"cf:{GUID}/0", "GOODCODE42"):
            raise Denied("bad code")
        return self.target


class Loop(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.loop = asyncio.new_event_loop()

    def run(self) -> None:
        self.loop.run_forever()

    def call(self, awaitable):
        async def wrapped():
            return await awaitable
        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(20)


async def tls_terminator(port: int, ctx: ssl.SSLContext, backend_port: int):
    async def handle(r, w):
        br, bw = await asyncio.open_connection("127.0.0.1", backend_port)

        async def pump(a, b):
            try:
                while data := await a.read(65536):
                    b.write(data)
                    await b.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                b.close()
        await asyncio.gather(pump(r, bw), pump(br, w))
    return await asyncio.start_server(handle, "127.0.0.1", port, ssl=ctx)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ssh")
    loop = Loop()
    loop.start()
    backend_key = asyncssh.generate_private_key("ssh-rsa")
    host_key = asyncssh.generate_private_key("ssh-rsa")
    sshd_port, tls_port = free_port(), free_port()
    loop.call(asyncssh.create_server(
        Instance, "127.0.0.1", sshd_port, server_host_keys=[asyncssh.generate_private_key(
            "ssh-rsa")], authorized_client_keys=asyncssh.import_authorized_keys(
            backend_key.export_public_key().decode()), process_factory=instance_session))
    # strict mode: instance identity cert (SAN = instance guid), client cert demanded
    root = pki.new_ca("appRootCA")
    inst = pki.issue_leaf(root, "ig-1", dns_names=["ig-1"], client_auth=True)
    client_ca = pki.new_ca("backendCA")
    client = pki.issue_leaf(client_ca, "ssh-proxy.service.cf.internal", server_auth=False,
                            client_auth=True, dns_names=["ssh-proxy.service.cf.internal"])
    for name, data in (("inst.crt", inst.chain_pem), ("inst.key", inst.key_pem),
                       ("root.crt", root.cert_pem), ("client.crt", client.chain_pem),
                       ("client.key", client.key_pem), ("client_ca.crt", client_ca.cert_pem)):
        (tmp / name).write_bytes(data)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp / "inst.crt", tmp / "inst.key")
    server_ctx.load_verify_locations(tmp / "client_ca.crt")
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    loop.call(tls_terminator(tls_port, server_ctx, sshd_port))
    client_ctx = ssl.create_default_context(cafile=str(tmp / "root.crt"))
    client_ctx.load_cert_chain(tmp / "client.crt", tmp / "client.key")
    proxies = {}
    for name, target, tls in (
            ("plain", Target("127.0.0.1", sshd_port, False, "ig-1", "pg", 0), None),
            ("tls", Target("127.0.0.1", tls_port, True, "ig-1", "pg", 0), client_ctx),
            ("tls-wrong-guid", Target("127.0.0.1", tls_port, True, "ig-other", "pg", 0),
             client_ctx)):
        port = free_port()
        loop.call(serve("127.0.0.1", port, host_key, Stub(target),
                        Backend("vcap", backend_key, tls, 5.0)))
        proxies[name] = port
    askpass = tmp / "askpass"
    askpass.write_text("#!/bin/sh\nprintf '%s\\n' \"$CODE\"\n")
    askpass.chmod(0o700)
    yield proxies, askpass
    loop.loop.call_soon_threadsafe(loop.loop.stop)


def ssh(world, proxy: str, code: str, *command: str) -> subprocess.CompletedProcess:
    proxies, askpass = world
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force",
           "DISPLAY": ":0", "CODE": code}
    return subprocess.run(
        ["ssh", "-p", str(proxies[proxy]), "-o", "StrictHostKeyChecking=no", "-o",
         "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no", "-o",
         "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1", "-T",
         f"cf:{GUID}/0@127.0.0.1", *command],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=30)


def test_openssh_reaches_the_instance_with_a_good_code(world):
    r = ssh(world, "plain", "GOODCODE42", "echo hi")
    assert (r.returncode, r.stdout) == (3, "ran: echo hi as vcap\n")


def test_a_bad_code_is_refused(world):
    r = ssh(world, "plain", "WRONGCODE1", "echo hi")
    assert r.returncode == 255 and "Permission denied" in r.stderr and "ran:" not in r.stdout


def test_strict_mode_goes_through_the_instance_tls_proxy(world):
    r = ssh(world, "tls", "GOODCODE42", "id")
    assert (r.returncode, r.stdout) == (3, "ran: id as vcap\n")
    # the certificate must name the instance the proxy meant: another guid fails
    r = ssh(world, "tls-wrong-guid", "GOODCODE42", "id")
    assert r.returncode == 255 and "cannot reach the instance" in r.stderr
