"""Port mappings per mode and the CF_INSTANCE_* environment (executor run_step.go)."""

from __future__ import annotations

import itertools
import json

from foundry.rep.instance import InstanceEnv, plan_mappings


def _acquire():
    counter = itertools.count(61000)
    return lambda: next(counter)


def test_after_envoy_maps_app_ports_first_then_tls_ports():
    m = plan_mappings([8080, 2222], proxy=True, unproxied=True, acquire=_acquire())
    assert [x.as_bbs() for x in m] == [
        {"container_port": 8080, "host_port": 61000, "container_tls_proxy_port": 61001,
         "host_tls_proxy_port": 61002},
        {"container_port": 2222, "host_port": 61001, "container_tls_proxy_port": 61002,
         "host_tls_proxy_port": 61003},
    ]


def test_strict_has_no_unproxied_mapping_and_no_instance_port():
    m = plan_mappings([8080], proxy=True, unproxied=False, acquire=_acquire())
    env = InstanceEnv("g", 0, "10.244.0.5", "10.255.1.2", m).render()
    assert json.loads(env["CF_INSTANCE_PORTS"]) == [
        {"internal": 8080, "external_tls_proxy": 61000, "internal_tls_proxy": 61001}]
    assert "CF_INSTANCE_PORT" not in env and "CF_INSTANCE_ADDR" not in env


def test_before_envoy_maps_only_the_app_port():
    m = plan_mappings([8080], proxy=False, unproxied=True, acquire=_acquire())
    env = InstanceEnv("guid", 2, "10.244.0.5", "10.255.1.2", m, {"PORT": "8080"}).render()
    assert json.loads(env["CF_INSTANCE_PORTS"]) == [{"external": 61000, "internal": 8080}]
    assert env["CF_INSTANCE_ADDR"] == "10.244.0.5:61000"
    assert env["CF_INSTANCE_INDEX"] == "2"
    assert env["CF_INSTANCE_IP"] == "10.244.0.5"
    assert env["CF_INSTANCE_INTERNAL_IP"] == "10.255.1.2"
    assert env["CF_INSTANCE_CERT"] == "/etc/cf-instance-credentials/instance.crt"
