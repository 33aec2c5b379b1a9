"""One docker command over a swarm's nodes: where it goes and how answers join."""

from __future__ import annotations

import json
import subprocess

from orchestrator import docker_cli, engines


def done(code: int, out: bytes = b"", err: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess([], code, out, err)


def test_hosts_are_the_variable_s_comma_separated_engines() -> None:
    assert engines.hosts(None) == []
    assert engines.hosts(" unix:///a.sock, unix:///b.sock,") == ["unix:///a.sock",
                                                                 "unix:///b.sock"]


def test_plan_sends_each_verb_where_its_containers_are() -> None:
    assert engines.plan(["docker", "ps", "-aq"]) == engines.EVERY
    assert engines.plan(["docker", "container", "inspect", "a"]) == engines.EVERY
    assert engines.plan(["docker", "rm", "-f", "a", "b"]) == engines.EVERY
    assert engines.plan(["docker", "exec", "cell", "pkill", "x"]) == engines.FIND
    assert engines.plan(["docker", "kill", "cell"]) == engines.FIND
    assert engines.plan(["docker", "run", "--rm", "--network", "container:cell", "img"]
                        ) == engines.FIND
    assert engines.plan(["docker", "run", "--rm", "img"]) == engines.MANAGER
    for verb in ("service", "stack", "node", "network", "volume", "info", "image"):
        assert engines.plan(["docker", verb, "ls"]) == engines.MANAGER
    assert engines.plan(["iptables", "-L"]) == engines.MANAGER


def test_find_tries_the_next_engine_only_when_the_container_is_not_there() -> None:
    answers = {"m": done(1, err=b"Error: No such container: cell"), "w1": done(0, b"ok"),
               "w2": done(0, b"never")}
    calls: list[str] = []

    def call(host: str) -> subprocess.CompletedProcess:
        calls.append(host)
        return answers[host]
    assert engines.dispatch(["docker", "exec", "cell", "true"], ["m", "w1", "w2"],
                            call).stdout == b"ok"
    assert calls == ["m", "w1"]
    calls.clear()
    answers["m"] = done(126, err=b"OCI runtime exec failed")   # there, but failed: no retry
    assert engines.dispatch(["docker", "exec", "cell", "x"], ["m", "w1"], call).returncode == 126
    assert calls == ["m"]


def test_inspect_joins_every_engine_s_json() -> None:
    args = ["docker", "container", "inspect", "a", "b"]
    merged = engines.merge(args, [done(1, b'[{"Name": "/a"}]', b"No such object: b"),
                                  done(1, b'[{"Name": "/b"}]', b"No such object: a")])
    assert merged.returncode == 0
    assert [c["Name"] for c in json.loads(merged.stdout)] == ["/a", "/b"]
    none = engines.merge(args, [done(1, b"[]", b"No such object"), done(1, b"[]", b"x")])
    assert none.returncode == 1 and json.loads(none.stdout) == []


def test_ps_and_formatted_inspect_join_lines() -> None:
    ps = engines.merge(["docker", "ps", "-q"], [done(0, b"a\nb\n"), done(0, b"c")])
    assert ps.stdout.split() == [b"a", b"b", b"c"] and ps.returncode == 0
    fmt = engines.merge(["docker", "inspect", "-f", "{{.Id}}", "c"],
                        [done(1, b"", b"No such object: c"), done(0, b"id-c\n")])
    assert (fmt.returncode, fmt.stdout, fmt.stderr) == (0, b"id-c\n", b"")


def test_run_without_the_variable_uses_the_callers_engine(monkeypatch) -> None:
    seen: list[dict | None] = []

    def fake(args, capture_output, env, input, timeout):
        seen.append(env)
        return done(0, b"")
    monkeypatch.setattr(subprocess, "run", fake)
    monkeypatch.delenv(engines.NODES_ENV, raising=False)
    docker_cli.run(["docker", "ps", "-q"])
    assert seen == [None]
    seen.clear()
    monkeypatch.setenv(engines.NODES_ENV, "unix:///m.sock,unix:///w.sock")
    docker_cli.run(["docker", "ps", "-q"])
    assert [e["DOCKER_HOST"] for e in seen] == ["unix:///m.sock", "unix:///w.sock"]


def test_cells_mount_the_socket_the_variable_names(monkeypatch) -> None:
    monkeypatch.setenv(docker_cli.CELL_SOCKET_ENV, "/var/run/docker.sock")
    assert docker_cli.socket_path() == "/var/run/docker.sock"
