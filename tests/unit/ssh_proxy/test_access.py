"""The ssh-proxy's authenticator: user name, code redemption, CC check, BBS lookup."""

import json

import pytest

from foundry.ssh_proxy import config
from foundry.ssh_proxy.access import Authenticator, Denied, parse_user, target_of

LRP = {"process_guid": "pg-1", "index": 1, "instance_guid": "ig-1", "state": "RUNNING",
       "address": "10.244.0.5",
       "ports": [{"container_port": 8080, "host_port": 61000, "container_tls_proxy_port": 61001,
                  "host_tls_proxy_port": 61001},
                 {"container_port": 2222, "host_port": 61002, "container_tls_proxy_port": 61002,
                  "host_tls_proxy_port": 61003}]}


class FakeHTTP:
    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def __call__(self, method, url, headers, body):
        self.calls.append((method, url, headers, body))
        for prefix, answer in self.answers.items():
            if url.startswith(prefix):
                return answer
        return 404, b""


def auth(http, tls=False):
    return Authenticator(http, "https://uaa", "ssh-proxy", "s3cret", "/login", "https://cc",
                         "http://bbs", tls)


def ok_http():
    return FakeHTTP({"https://uaa/oauth/token": (200, json.dumps({"access_token": "T"}).encode()),
                     "https://cc/internal/apps/4e1e2f5a-0000-4000-8000-0000000000aa/ssh_access/1":
                         (200, json.dumps({"process_guid": "pg-1"}).encode()),
                     "http://bbs/v1/actual_lrps": (200, json.dumps([LRP]).encode())})


def test_user_names():
    assert parse_user("cf:4e1e2f5a-0000-4000-8000-000000000001/3") == (
        "4e1e2f5a-0000-4000-8000-000000000001", 3)
    for bad in ("vcap", "cf:guid", "cf:/1", "cf:g/x", "cf:g/1/2", "cf:g;rm/1"):
        with pytest.raises(Denied):
            parse_user(bad)


def test_a_good_code_reaches_the_instance_port():
    http = ok_http()
    t = auth(http).authenticate("cf:4e1e2f5a-0000-4000-8000-0000000000aa/1", "CODE123456")
    assert (t.host, t.port, t.tls, t.instance_guid) == ("10.244.0.5", 61002, False, "ig-1")
    method, url, headers, body = http.calls[0]
    assert url == "https://uaa/oauth/token" and headers["Authorization"].startswith("Basic ")
    assert b"grant_type=authorization_code" in body and b"code=CODE123456" in body
    assert http.calls[1][2]["Authorization"] == "bearer T"
    assert "process_guid=pg-1" in http.calls[2][1] and "index=1" in http.calls[2][1]
    assert auth(ok_http(), tls=True).authenticate("cf:4e1e2f5a-0000-4000-8000-0000000000aa/1", "C").port == 61003


def test_refusals():
    http = ok_http()
    http.answers["https://uaa/oauth/token"] = (400, b'{"error":"invalid_grant"}')
    with pytest.raises(Denied, match="UAA refused"):
        auth(http).authenticate("cf:4e1e2f5a-0000-4000-8000-0000000000aa/1", "used-code")
    http = ok_http()
    http.answers = {k: ((403, b"{}") if k.startswith("https://cc/") else v)
                    for k, v in http.answers.items()}
    with pytest.raises(Denied, match="Cloud Controller denied"):
        auth(http).authenticate("cf:4e1e2f5a-0000-4000-8000-0000000000aa/1", "C")
    with pytest.raises(Denied, match="CRASHED"):
        target_of({**LRP, "state": "CRASHED"}, False)
    with pytest.raises(Denied, match="no host port"):
        target_of({**LRP, "ports": [{**LRP["ports"][1], "host_port": 0}]}, False)


def test_config_errors():
    with pytest.raises(config.ConfigError, match="required"):
        config.from_dict({})
    with pytest.raises(config.ConfigError, match="backend_tls needs"):
        config.from_dict({"host_key_file": "h", "backend_key_file": "b", "backend_tls": True})
    with pytest.raises(config.ConfigError, match="timeout"):
        config.from_dict({"host_key_file": "h", "backend_key_file": "b", "timeout": "x"})
    with pytest.raises(config.ConfigError, match="bbs_client_cert_file.*mutual TLS"):
        config.from_dict({"host_key_file": "h", "backend_key_file": "b",
                          "bbs_address": "https://bbs.service.cf.internal:8889"})


def test_sessions_run_through_the_instance_wrapper():
    from foundry.ssh_proxy.server import Backend

    b = Backend("vcap", None, None, 5.0, "/tmp/lifecycle/ssh-session")
    assert b.command(None) == "/tmp/lifecycle/ssh-session"
    assert b.command("echo $PORT; rm -rf 'x'") == \
        "/tmp/lifecycle/ssh-session -c 'echo $PORT; rm -rf '\"'\"'x'\"'\"''"
    assert Backend("vcap", None, None, 5.0).command("ls") == "ls"


def test_session_wrapper_uses_diegos_session_environment(tmp_path, monkeypatch):
    from foundry.launcher import ssh_session

    env_file = tmp_path / "instance.env"
    env_file.write_text(json.dumps({"PATH": "/x", "CF_INSTANCE_GUID": "ig", "HOME": "/root"}))
    monkeypatch.setattr(ssh_session, "ENV_FILE", str(env_file))
    monkeypatch.setattr(ssh_session, "HOME", str(tmp_path))
    monkeypatch.setenv("TERM", "xterm")
    # main() chdirs to HOME before its exec: put the cwd back afterwards (a later test
    # that resolved a relative path failed in CI from the tmp dir this left behind)
    monkeypatch.chdir(tmp_path.parent)
    execs = []
    monkeypatch.setattr(ssh_session.os, "execve", lambda p, a, e: execs.append((a, e)))
    ssh_session.main(["-c", "ps -ef"])
    argv, env = execs[0]
    assert argv == ["/bin/bash", "-c", "ps -ef"]
    assert env == {"PATH": "/bin:/usr/bin", "LANG": "en_US.UTF8", "CF_INSTANCE_GUID": "ig",
                   "TERM": "xterm", "HOME": "/home/vcap", "USER": "vcap"}
    ssh_session.main([])
    assert execs[1][0] == ["/bin/bash"]
