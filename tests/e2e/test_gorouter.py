"""The router job on a live foundation: its rendered config and what it announces (issue 13)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e.helpers import http_get, inside, through_router, wait_for

pytestmark = pytest.mark.e2e

CONFIG = "/var/vcap/jobs/gorouter/config/gorouter.yml"
# router.greet over a raw NATS connection from inside the router container, with the
# NATS user and password from the router's own config (NATS refuses anyone without them)
GREET = r"""
import json, socket, yaml
nats = yaml.safe_load(open("/var/vcap/jobs/gorouter/config/gorouter.yml"))["nats"]
s = socket.create_connection(("nats", 4222), timeout=10)
f = s.makefile("rb")
f.readline()
connect = json.dumps({"verbose": False, "user": nats["user"], "pass": nats["pass"]})
s.sendall(b"CONNECT " + connect.encode() + b'\r\nSUB _INBOX.e2e 1\r\nPUB router.greet _INBOX.e2e 0\r\n\r\n')
line = f.readline()
while not line.startswith(b"MSG"):
    line = f.readline()
print(f.read(int(line.split()[-1])).decode())
"""


def in_router(jobs, *cmd: str):
    return inside(jobs["router"]["container"]).run(" ".join(["%s"] * len(cmd)), *cmd)


def test_gorouter_yml_holds_the_credentials_inline(jobs) -> None:
    """A3: backends.cert_chain/private_key and ca_certs as PEM, the way BOSH renders them."""
    out = in_router(jobs, "python3", "-c",
                    f"import json, os, stat, yaml; c = yaml.safe_load(open('{CONFIG}'));"
                    "print(json.dumps([c['backends']['cert_chain'], c['backends']['private_key'],"
                    f" c['ca_certs'], oct(stat.S_IMODE(os.stat('{CONFIG}').st_mode))]))")
    assert out.rc == 0, out.stderr
    chain, key, cas, mode = json.loads(out.stdout)
    assert chain.startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY-----" in key.splitlines()[0]
    assert isinstance(cas, list) and cas[0].startswith("-----BEGIN CERTIFICATE-----")
    assert mode == "0o600"


def test_greet_reply_and_route_emitters_use_the_register_interval(cfg, jobs) -> None:
    """B9: the foundation's register_interval (2 s here, CF's 20 s by default) is what the
    router waits at start, announces, and what the route emitters register at."""
    interval = int(cfg.timings["register_interval"])
    out = in_router(jobs, "python3", "-c", GREET)
    assert out.rc == 0, out.stderr
    assert json.loads(out.stdout)["minimumRegisterIntervalInSeconds"] == interval
    cell = jobs["cell-1"]["container"]

    def emitter_says() -> bool:
        logs = subprocess.run(["docker", "logs", cell], capture_output=True, text=True)
        return f"register interval {float(interval)}s" in logs.stdout + logs.stderr
    wait_for(emitter_says, 30, what="cell-1's route emitter following the greet reply")


def test_unknown_route_quotes_the_host_as_sent(cfg) -> None:
    """B1: case and port kept, as Go's r.Host."""
    status, headers, body = through_router(cfg, "NoPe.apps.internal:8080")
    assert status == 404 and headers["Cache-Control"] == "no-cache, no-store"
    assert body == b"404 Not Found: Requested route ('NoPe.apps.internal:8080') does not exist.\n"


# A NATS client with no credentials, from inside the foundation network (the router's
# container): what nats-server answers its CONNECT.
ANONYMOUS = r"""
import socket
s = socket.create_connection(("nats", 4222), timeout=10)
s.recv(4096)
s.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
data = b""
try:
    while chunk := s.recv(4096):
        data += chunk
except ConnectionResetError:
    pass
print(data.decode())
"""


def test_nats_refuses_a_client_without_the_password(jobs) -> None:
    """cf-deployment's NATS has a user and a password: an anonymous CONNECT is refused."""
    out = in_router(jobs, "python3", "-c", ANONYMOUS)
    assert out.rc == 0, out.stderr
    assert "-ERR 'Authorization Violation'" in out.stdout and "PONG" not in out.stdout


def test_every_nats_client_is_logged_in_as_the_nats_user(cfg, jobs) -> None:
    """The router, the route emitters and the dashboard: nats-server's /connz names the
    user each connection authenticated as (the README's procedure)."""
    def clients() -> list[dict]:
        url = f"http://127.0.0.1:{cfg.ports['nats_monitor']}/connz?auth=true"
        conns = http_get(url).json()["connections"]
        names = {c.get("name", "") for c in conns}
        wanted = {"dashboard", *(f"route_emitter-cell-{n}" for n in range(1, cfg.cells + 1))}
        return conns if wanted <= names and len(conns) >= len(wanted) + 1 else []
    conns = wait_for(clients, 30, what="the router, every route emitter and the dashboard"
                                       " connected to NATS")
    assert {c.get("authorized_user") for c in conns} == {"nats"}, conns


def test_the_nats_password_is_the_foundations_and_0600(cfg, jobs) -> None:
    from orchestrator import render

    state = render.state_dir(cfg.project)
    password = (state / "nats_password").read_text().strip()
    assert len(password) >= 32
    for path in (state / "nats_password", state / "jobs" / "nats" / "nats.conf",
                 state / "jobs" / "gorouter" / "gorouter.yml",
                 state / "jobs" / "cell-1" / "route_emitter" / "route_emitter.json",
                 state / "jobs" / "dashboard" / "dashboard.json"):
        assert path.stat().st_mode & 0o777 == 0o600, path
        assert password in path.read_text(), path
    logs = subprocess.run(["docker", "logs", jobs["nats"]["container"]], capture_output=True,
                          text=True)
    assert password not in logs.stdout + logs.stderr
