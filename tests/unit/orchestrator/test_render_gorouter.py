"""gorouter.yml rendered from the foundation config as BOSH renders it (issue 13 A3, B9, B10)."""

from __future__ import annotations

import pytest
import yaml

from foundry.gorouter import config as gorouter_config
from foundry.gorouter.nats_client import start_message
from orchestrator import config
from orchestrator.render import gorouter_yml


def rendered(**overrides) -> dict:
    return yaml.safe_load(yaml.safe_dump(gorouter_yml(config.load(None, overrides or None))))


def test_register_interval_is_the_start_delay_and_what_the_router_announces() -> None:
    raw = rendered()
    # BOSH: both from router.requested_route_registration_interval_in_seconds (20)
    assert raw["start_response_delay_interval"] == "20s"
    cfg = gorouter_config.from_dict({**raw, "ca_certs": [], "backends": {}})
    assert start_message(cfg, "id")["minimumRegisterIntervalInSeconds"] == 20
    assert rendered(timings={"register_interval": "2s"})["start_response_delay_interval"] == "2s"


def test_an_explicit_start_response_delay_interval_wins() -> None:
    # gorouter.yml has only this one; compressed scenarios set it on its own
    raw = rendered(timings={"register_interval": "2s", "start_response_delay_interval": "1s"})
    assert raw["start_response_delay_interval"] == "1s"
    with pytest.raises(config.ConfigError, match="timings.start_response_delay_interval"):
        config.load(None, {"timings": {"start_response_delay_interval": "soon"}})


def test_suspend_pruning_is_a_foundation_setting() -> None:
    assert rendered()["suspend_pruning_if_nats_unavailable"] is False
    assert rendered(suspend_pruning_if_nats_unavailable=True)[
        "suspend_pruning_if_nats_unavailable"] is True
    with pytest.raises(config.ConfigError, match="suspend_pruning_if_nats_unavailable"):
        config.load(None, {"suspend_pruning_if_nats_unavailable": "yes"})


def test_credentials_are_bosh_variables_until_the_router_starts() -> None:
    raw = rendered()
    assert raw["backends"]["cert_chain"] == "((gorouter_backend_tls.certificate))"
    assert raw["backends"]["private_key"] == "((gorouter_backend_tls.private_key))"
    assert raw["ca_certs"] == ["((application_ca.certificate))"]
