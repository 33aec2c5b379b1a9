"""The swarm stack file is the Compose foundation with swarm's replacements."""

from __future__ import annotations

import pytest

from orchestrator import config, job_health, render, stack

NODE = "node0abc"


def _stack(cells: int = 2, only: tuple[str, ...] = ()) -> dict:
    cfg = config.load(None, {"project": "cflab-sw", "cells": cells, "engine": "swarm"})
    return stack.stack_file(render.COMPOSE_FILE.read_text(), render.compose_env(cfg),
                            render.cells_compose(cfg, "/run/docker.sock"), cfg.project, NODE,
                            only)


def test_engine_is_a_config_choice() -> None:
    assert config.load(None, {}).engine == "compose"
    with pytest.raises(config.ConfigError, match="engine: must be one of compose, swarm"):
        config.load(None, {"engine": "kubernetes"})


def test_every_compose_service_and_cell_is_in_the_stack() -> None:
    s = _stack()
    assert s["version"] == stack.STACK_VERSION
    assert {"nats", "router", "bbs", "pki", "cell-1", "cell-2"} <= set(s["services"])
    assert {"foundation", "cell-1-containers", "cell-2-containers"} == set(s["networks"])


def test_keys_swarm_ignores_are_replaced() -> None:
    for name, svc in _stack()["services"].items():
        assert not {"restart", "depends_on", "network_mode"} & set(svc), name
        deploy = svc["deploy"]
        assert deploy["restart_policy"] == {"condition": "none"}   # faults stay injected
        assert deploy["endpoint_mode"] == "dnsrr"                   # names resolve to tasks
        assert deploy["labels"]["cflab.foundation"] == "cflab-sw"
        assert svc["labels"]["cflab.foundation"] == "cflab-sw"      # the containers' labels


def test_pki_joins_the_foundation_network_instead_of_none() -> None:
    assert _stack()["services"]["pki"]["networks"] == ["foundation"]


def test_ports_are_host_mode_with_the_configured_host_port() -> None:
    router = _stack()["services"]["router"]
    assert router["ports"] == [{"target": 80, "published": 8080, "protocol": "tcp",
                                "mode": "host"}]


def test_cells_are_pinned_by_node_label_and_jobs_to_this_node() -> None:
    s = _stack()
    assert s["services"]["cell-2"]["deploy"]["placement"]["constraints"] == [
        "node.labels.cflab.cflab-sw.cell-2 == true"]
    assert s["services"]["router"]["deploy"]["placement"]["constraints"] == [
        f"node.id == {NODE}"]
    cell = s["services"]["cell-1"]
    assert cell["cap_add"] == ["NET_ADMIN"] and cell["sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert "/run/docker.sock:/var/run/docker.sock" in cell["volumes"]


def test_networks_are_attachable_overlays_with_the_configured_subnets() -> None:
    nets = _stack()["networks"]
    assert nets["foundation"]["driver"] == "overlay" and nets["foundation"]["attachable"]
    assert nets["foundation"]["ipam"]["config"][0]["subnet"] == "10.244.0.0/24"
    assert nets["cell-2-containers"]["ipam"]["config"][0]["subnet"] == "10.255.2.0/24"
    assert nets["cell-2-containers"]["labels"]["cflab.cell"] == "cell-2"


def test_only_renders_the_pki_step_with_every_network_and_volume() -> None:
    s = _stack(only=("pki",))
    assert list(s["services"]) == ["pki"]
    assert "secrets-rep" in s["volumes"] and "foundation" in s["networks"]


def test_interpolation_defaults_and_missing_variables() -> None:
    assert stack.substitute("${A} ${B:-1}", {"A": "x"}) == "x 1"
    with pytest.raises(stack.StackError, match="C"):
        stack.substitute("${C}", {})


def test_swarm_has_no_container_name_or_host_ip_choice() -> None:
    with pytest.raises(stack.StackError, match="container_name"):
        stack.service("x", {"container_name": "x"}, "p", "node.id == n")
    with pytest.raises(stack.StackError, match="HOST_IP"):
        stack.published(["8080:80"])


def test_a_swarm_job_is_its_newest_task_container(monkeypatch) -> None:
    """A forced update leaves the old task's container as history: status reads the new."""
    from orchestrator import foundation as fnd

    def task(name: str, created: str, status: str) -> dict:
        return {"Name": f"/cflab-sw_router.1.{name}", "Created": created,
                "Config": {"Labels": {stack.SERVICE_LABEL: "cflab-sw_router"}},
                "State": {"Status": status, "ExitCode": 0}}

    found = [task("new", "2026-11-30T06:33:01Z", "running"),
             task("old", "2026-11-30T06:32:00Z", "exited")]
    monkeypatch.setattr(fnd, "inspect", lambda kind, names: found)
    monkeypatch.setattr(fnd.Foundation, "running_containers", lambda self: ["a", "b"])
    cfg = config.load(None, {"project": "cflab-sw"})
    states = fnd.Foundation(cfg).job_states()
    assert list(states) == ["router"]
    assert states["router"]["container"] == "cflab-sw_router.1.new"
    assert states["router"]["state"] == "running"


def test_engine_swarm_outside_a_swarm_says_what_to_do(monkeypatch) -> None:
    import subprocess

    from orchestrator import swarm
    from orchestrator.progress import PhaseError

    monkeypatch.setattr(swarm, "run", lambda args, **kw: subprocess.CompletedProcess(
        args, 0, b"inactive  false\n", b""))
    with pytest.raises(PhaseError, match="docker swarm init"):
        swarm.local_node()


def test_cells_go_where_their_label_is_else_on_this_node(monkeypatch) -> None:
    from orchestrator import swarm

    updates = []
    monkeypatch.setattr(swarm, "node_labels", lambda: {
        "n1": {}, "n2": {"cflab.cflab-sw.cell-2": "true"}})
    monkeypatch.setattr(swarm, "run", lambda args, **kw: updates.append(args))
    assert swarm.place_cells("cflab-sw", ["cell-1", "cell-2"], "n1") == {
        "cell-1": "n1", "cell-2": "n2"}
    assert updates == [["docker", "node", "update", "--label-add",
                        "cflab.cflab-sw.cell-1=true", "n1"]]


def test_docker_runs_no_health_check_on_a_swarm_and_the_check_rides_in_a_label() -> None:
    """A swarm adds a task to its service's DNS after its first passing check, and
    checks often enough for that cost the lab ~5% of a core: cflab runs them instead."""
    cfg = config.load(None, {"project": "cflab-sw", "cells": 2, "engine": "swarm"})
    compose = render.compose_env(cfg)
    plain = stack.yaml.safe_load(stack.substitute(render.COMPOSE_FILE.read_text(), compose))
    s = _stack()
    for name in ("nats", "router", "cell-1"):
        svc = s["services"][name]
        assert svc["healthcheck"] == {"disable": True}, name
        test, retries, by = job_health.check_of(
            {"Healthcheck": {"Test": ["NONE"]}, "Labels": svc["labels"]})
        assert by == "cflab" and test[0] == "CMD", name
    test, retries, _ = job_health.check_of({"Labels": s["services"]["nats"]["labels"]})
    assert test == plain["services"]["nats"]["healthcheck"]["test"]
    assert retries == plain["services"]["nats"]["healthcheck"]["retries"]
