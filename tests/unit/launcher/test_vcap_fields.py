"""VCAP_APPLICATION gets the instance's fields at launch, as cfenv expects them."""

import json

from foundry.launcher.vcap import with_instance_fields


def test_instance_fields_added():
    env = {"VCAP_APPLICATION": json.dumps({"name": "a", "limits": {"mem": 256}}),
           "PORT": "8080", "CF_INSTANCE_GUID": "abcd-1234", "CF_INSTANCE_INDEX": "2"}
    vcap = json.loads(with_instance_fields(env)["VCAP_APPLICATION"])
    assert vcap == {"name": "a", "limits": {"mem": 256}, "host": "0.0.0.0", "port": 8080,
                    "instance_id": "abcd-1234", "instance_index": 2}


def test_absent_or_bad_vcap_application_is_left_alone():
    assert with_instance_fields({"PORT": "8080"}) == {"PORT": "8080"}
    assert with_instance_fields({"VCAP_APPLICATION": "{nope"}) == {"VCAP_APPLICATION": "{nope"}
