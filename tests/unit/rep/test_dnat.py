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


def test_an_instances_rules_are_one_restore_transaction():
    ms = [dnat.Mapping(61002, "10.255.1.3", 8080, "guid-1"),
          dnat.Mapping(61003, "10.255.1.3", 61001, "guid-1")]
    text = dnat.restore_input("-A", "10.244.0.5", ms)
    lines = text.splitlines()
    assert lines[0] == "*nat" and lines[-1] == "COMMIT" and text.endswith("\n")
    assert lines[1:-1] == [" ".join(c[2:]) for c in dnat.add_commands("10.244.0.5", ms)]
    assert dnat.restore_input("-D", "10.244.0.5", ms).splitlines()[1:-1] == [
        " ".join(c[2:]) for c in dnat.delete_commands("10.244.0.5", ms)]


def test_a_restore_refuses_what_it_cannot_carry():
    import pytest

    with pytest.raises(ValueError, match="-A or -D"):
        dnat.restore_input("-F", "10.244.0.5", [])
    with pytest.raises(ValueError, match="cannot carry"):
        dnat.restore_input("-A", "10.244.0.5", [dnat.Mapping(1, "10.0.0.1", 2, "a b")])
