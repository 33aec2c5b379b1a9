import pytest

from foundry.bbs.errors import InvalidRequest
from foundry.bbs.validation import validate_desired, validate_update


def test_defaults_and_order():
    d = validate_desired({"instances": 1, "process_guid": "pg", "log_guid": "app"})
    assert list(d)[:2] == ["process_guid", "domain"]
    assert d["domain"] == "cf-apps"
    assert d["metrics_guid"] == "app"
    assert d["routes"] == {}


def test_unknown_fields_kept():
    assert validate_desired({"process_guid": "pg", "sidecars": []})["sidecars"] == []


@pytest.mark.parametrize("body,field", [
    ({}, "process_guid"),
    ({"process_guid": ""}, "process_guid"),
    ({"process_guid": "a/b"}, "process_guid"),
    ({"process_guid": "p", "instances": -1}, "instances"),
    ({"process_guid": "p", "instances": True}, "instances"),
    ({"process_guid": "p", "ports": ["8080"]}, "ports"),
    ({"process_guid": "p", "ports": [70000]}, "ports"),
    ({"process_guid": "p", "domain": ""}, "domain"),
    ({"process_guid": "p", "routes": []}, "routes"),
    ({"process_guid": "p", "routes": {"cf-router": [{"hostnames": "a", "port": 8080}]}}, "routes"),
    ({"process_guid": "p", "env": [{"value": "x"}]}, "env"),
    ({"process_guid": "p", "memory_mb": "1G"}, "memory_mb"),
    ({"process_guid": "p", "certificate_properties": {"organizational_unit": "x"}},
     "certificate_properties"),
    ({"process_guid": "p", "action": "run"}, "action"),
    ({"process_guid": "p", "log_guid": 5}, "log_guid"),
])
def test_errors_name_the_field(body, field):
    with pytest.raises(InvalidRequest) as e:
        validate_desired(body)
    assert e.value.message.startswith(field + ":")


def test_update_only_updatable_fields():
    assert validate_update({"instances": 3}) == {"instances": 3}
    with pytest.raises(InvalidRequest, match="^ports: cannot be updated"):
        validate_update({"ports": [1]})
    with pytest.raises(InvalidRequest, match="^instances:"):
        validate_update({"instances": "3"})
