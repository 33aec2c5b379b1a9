"""DNAT rules live in cflab's own chains and match addresses, never interfaces."""

from __future__ import annotations

from foundry.rep import dnat


def test_rule_per_mapping_to_the_container():
    m = dnat.Mapping(61002, "10.255.1.3", 61001, "guid-1")
    cmd = dnat.add_commands("10.244.0.5", [m])[0]
    assert cmd[:4] == ["-t", "nat", "-A", "CFLAB-DNAT"]
    joined = " ".join(cmd)
    assert "-d 10.244.0.5/32 -p tcp --dport 61002" in joined
    assert "-j DNAT --to-destination 10.255.1.3:61001" in joined
    assert "--comment guid-1" in joined
    assert "-i " not in joined and "-o " not in joined
    assert dnat.delete_commands("10.244.0.5", [m])[0][2:] == ["-D", *cmd[3:]]


def test_setup_never_touches_dockers_chains():
    chains, ensure = dnat.setup_commands("10.255.1.0/24")
    flushed = [c[3] for c in chains if c[2] == "-F"]
    assert flushed == ["CFLAB-DNAT", "CFLAB-SNAT"]
    assert ["-t", "nat", "CFLAB-SNAT", "-d", "10.255.1.0/24", "-j", "MASQUERADE"] in ensure
    assert ["-t", "nat", "PREROUTING", "-j", "CFLAB-DNAT"] in ensure


def test_the_cells_own_containers_cannot_use_its_host_ports():
    _, ensure = dnat.setup_commands("10.255.1.0/24", "10.244.0.5")
    assert ensure[0] == ["-t", "nat", "CFLAB-DNAT", "-s", "10.255.1.0/24", "-d", "10.244.0.5/32",
                         "-j", "RETURN"]  # first, before any mapping is appended
    assert dnat.setup_commands("10.255.1.0/24")[1][0][2] == "PREROUTING"  # no isolation
