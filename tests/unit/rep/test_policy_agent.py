"""The cell's policy agent: the rules a container gets, and when they are rewritten."""

from __future__ import annotations

from foundry.rep.policy_agent import Allowed, PolicyAgent, allowed_for, filter_rules, instance_ips

POLICY = {"source": {"id": "web-guid"},
          "destination": {"id": "api-guid", "protocol": "tcp", "ports": {"start": 8080,
                                                                          "end": 8080}}}


def test_default_deny_lets_in_only_replies_itself_and_the_cell():
    rules = filter_rules("10.255.1.3", "10.255.1.2", [])
    lines = rules.splitlines()
    assert lines[0] == "*filter" and lines[-1] == "COMMIT"
    accepted = [x for x in lines if x.endswith("-j ACCEPT")]
    assert accepted == ["-A cflab-c2c -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                        "-A cflab-c2c -s 127.0.0.0/8 -j ACCEPT",
                        "-A cflab-c2c -s 10.255.1.3/32 -j ACCEPT",
                        "-A cflab-c2c -s 10.255.1.2/32 -j ACCEPT"]
    assert lines[-3:-1] == ["-A cflab-c2c -p tcp -j REJECT --reject-with tcp-reset",
                            "-A cflab-c2c -j REJECT --reject-with icmp-port-unreachable"]
    assert "-A INPUT -j cflab-c2c" in lines


def test_a_policy_opens_exactly_its_source_instances_and_ports():
    ips = {"web-guid": ["10.255.1.4", "10.255.2.7"], "other-guid": ["10.255.1.9"]}
    allowed = allowed_for("api-guid", [POLICY], ips)
    assert allowed == [Allowed("10.255.1.4", "tcp", 8080, 8080),
                       Allowed("10.255.2.7", "tcp", 8080, 8080)]
    assert allowed_for("web-guid", [POLICY], ips) == []  # one direction only
    rules = filter_rules("10.255.1.3", "10.255.1.2",
                         [*allowed, Allowed("10.255.1.4", "udp", 5000, 5010)])
    assert "-A cflab-c2c -s 10.255.1.4/32 -p tcp -m tcp --dport 8080 -j ACCEPT" in rules
    assert "-A cflab-c2c -s 10.255.1.4/32 -p udp -m udp --dport 5000:5010 -j ACCEPT" in rules
    assert "10.255.1.9" not in rules


def test_only_running_instances_count_as_sources():
    lrps = [{"process_guid": "web-v1", "state": "RUNNING", "instance_address": "10.255.1.4"},
            {"process_guid": "web-v1", "state": "CLAIMED", "instance_address": ""},
            {"process_guid": "web-v1", "state": "CRASHED", "instance_address": "10.255.1.5"},
            {"process_guid": "gone", "state": "RUNNING", "instance_address": "10.255.1.6"}]
    assert instance_ips(lrps, {"web-v1": "web-guid"}) == {"web-guid": ["10.255.1.4"]}


class FakeBBS:
    def __init__(self) -> None:
        self.actual = [{"process_guid": "web-v1", "state": "RUNNING",
                        "instance_address": "10.255.1.4"}]

    def desired_lrps(self):  # noqa: ANN201
        return [{"process_guid": "web-v1", "log_guid": "web-guid"},
                {"process_guid": "api-v1", "log_guid": "api-guid"}]

    def actual_lrps(self):  # noqa: ANN201
        return self.actual


def agent(policies: list[dict]) -> tuple[PolicyAgent, list[tuple[str, str]]]:
    applied: list[tuple[str, str]] = []
    a = PolicyAgent("http://cc", FakeBBS(), "10.255.1.2",
                    lambda: [("h-api", "api-guid", "10.255.1.3", "cid-api")],
                    lambda cid, rules: applied.append((cid, rules)))
    a.fetch_policies = lambda apps: [p for p in policies  # type: ignore[method-assign]
                                     if p["destination"]["id"] in apps]
    return a, applied


def test_the_agent_rewrites_a_containers_rules_only_when_they_change():
    policies: list[dict] = []
    a, applied = agent(policies)
    a.installed("h-api", a.rules("api-guid", "10.255.1.3"))  # what the executor put in
    assert a.sync() == 0 and applied == []
    policies.append(POLICY)
    assert a.sync() == 1
    assert "-s 10.255.1.4/32 -p tcp" in applied[-1][1] and applied[-1][0] == "cid-api"
    assert a.sync() == 0  # nothing changed since
    a.bbs.actual.append({"process_guid": "web-v1", "state": "RUNNING",
                         "instance_address": "10.255.1.8"})  # a new web instance
    assert a.sync() == 1 and "-s 10.255.1.8/32" in applied[-1][1]
    policies.clear()
    assert a.sync() == 1 and "--dport" not in applied[-1][1]


def test_a_container_the_executor_has_not_set_up_is_left_to_it():
    a, applied = agent([POLICY])
    assert a.sync() == 0 and applied == []
    # and the executor then installs what the agent saw last
    assert "-s 10.255.1.4/32" in a.rules("api-guid", "10.255.1.3")
