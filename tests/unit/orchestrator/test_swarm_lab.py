"""The swarm lab's plan and figures (sans-IO)."""

from __future__ import annotations

from ipaddress import IPv4Network

import pytest

from orchestrator import config, docker_cli, images, swarm_lab
from orchestrator.scenario import settings


def test_bad_node_counts_are_refused_with_the_range() -> None:
    for bad in (0, -1, swarm_lab.MAX_NODES + 1):
        with pytest.raises(swarm_lab.LabError, match=f"--nodes {bad}: a lab has 1 to"):
            swarm_lab.LabPlan(bad)


def test_one_cell_per_node_and_the_scenario_cell_on_a_worker() -> None:
    plan = swarm_lab.LabPlan(3)
    assert plan.names == ["cflab-lab-node-1", "cflab-lab-node-2", "cflab-lab-node-3"]
    assert plan.cell_nodes(3) == {"cell-1": 1, "cell-2": 2, "cell-3": 3}
    assert plan.cell_nodes(4)["cell-4"] == 1
    assert plan.scenario_cell_node() == 3
    assert swarm_lab.LabPlan(1).scenario_cell_node() == 1


def test_ports_are_published_on_loopback_only_and_clear_of_other_foundations() -> None:
    plan = swarm_lab.LabPlan(2)
    args = plan.publish_args()
    specs = args[1::2]
    assert set(args[0::2]) == {"-p"} and all(s.startswith("127.0.0.1:") for s in specs)
    defaults = set(config.defaults()["ports"].values())
    scenarios = {p + settings.PORT_OFFSET for p in defaults}
    assert not set(plan.ports.values()) & (defaults | scenarios)
    assert all(p < 32768 for p in plan.ports.values())       # not an ephemeral port
    config.load(None, plan.foundation(2))                     # a valid foundation config
    config.load(None, {**plan.scenario_placement(), "project": "x"})


def test_subnets_overlap_nothing_cflab_uses() -> None:
    lab = [swarm_lab.LAB_SUBNET, IPv4Network(swarm_lab.ADDR_POOL),
           *(IPv4Network(s) for s in swarm_lab.SUBNETS.values()),
           *(IPv4Network(s) for s in swarm_lab.SCENARIO_SUBNETS.values())]
    used = [IPv4Network(s) for s in (*config.defaults()["subnets"].values(),
                                     *settings.RUNNER_DEFAULTS["subnets"].values(),
                                     "10.212.0.0/16", "10.213.0.0/16", "10.214.0.0/24",
                                     "10.215.0.0/16", "10.216.0.0/24", "10.228.0.0/14")]
    for i, a in enumerate(lab):
        assert not any(a.overlaps(b) for b in used), a
        assert not any(a.overlaps(b) for b in lab[i + 1:]), a


def test_docker_stats_memory() -> None:
    assert docker_cli.stats_mib("1.5GiB / 23.5GiB") == 1536
    assert docker_cli.stats_mib("512MiB / 1GiB") == 512
    assert docker_cli.stats_mib("2048KiB / 1GiB") == 2
    with pytest.raises(ValueError, match="not a docker stats memory figure"):
        docker_cli.stats_mib("lots")


def test_figures_print_every_measure() -> None:
    f = swarm_lab.Figures(3, started={"nodes": 40.0}, memory_mib={"n1": 900, "n2": 300},
                          routed={"cell-2": "n2"}, verdicts={"strict": "PASSED"}, total=400)
    text = "\n".join(f.lines())
    for part in ("3 node(s)", "nodes: 40.0s", "n1 900 MiB", "total 1200 MiB",
                 "cell-2 on n2", "scenario strict: PASSED", "total (teardown included): 400.0s"):
        assert part in text


APT_DEPENDS = """docker.io
  PreDepends: init-system-helpers
  Depends: libsystemd0
    libelogind0
  Depends: <debconf-2.0>
    cdebconf
    debconf
init-system-helpers
 |Depends: usrmerge
  Depends: usr-is-merged
    usrmerge
usrmerge
  Depends: <perl:any>
libsystemd0
  Depends: libc6
debconf
usr-is-merged
libc6
"""


def test_node_image_closure_is_what_apt_would_pick() -> None:
    # first alternative not excluded, a virtual package by a provider, providers of a
    # real package ignored: no usrmerge (and its perl), no libelogind0, no cdebconf
    assert images.dependency_closure(APT_DEPENDS, ["docker.io"]) == [
        "debconf", "docker.io", "init-system-helpers", "libc6", "libsystemd0", "usr-is-merged"]
    assert "usrmerge" in images.dependency_closure(APT_DEPENDS, ["docker.io"], frozenset())
    assert "node" in images.VARIANTS and "node" not in images.BUILD_ORDER


def test_nodes_get_every_capability_this_engine_has() -> None:
    here = "Name:\tx\nCapBnd:\t000001fffeffffff\n"      # all of 0..40 but bit 24
    assert swarm_lab.missing_caps(here) == ["SYS_RESOURCE"]
    args = swarm_lab.node_security(here)
    assert args[:4] == ["--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE"]
    assert "seccomp=unconfined" in args and "--privileged" not in args
    assert swarm_lab.missing_caps("CapBnd:\t000001ffffffffff\n") == []
