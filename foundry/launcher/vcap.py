"""The instance's own fields in VCAP_APPLICATION, added at launch as CF's lifecycle does.

The Cloud Controller's VCAP_APPLICATION knows the app, not the instance; the
buildpack app lifecycle's launcher adds `host` (0.0.0.0), `port`, `instance_id` and
`instance_index` from the container's environment before the app starts, so
libraries such as cfenv (`AppEnv().bind`, `.port`) find where to listen.
"""

from __future__ import annotations

import json


def with_instance_fields(env: dict[str, str]) -> dict[str, str]:
    """``env`` with VCAP_APPLICATION completed; left alone when it is absent or not JSON."""
    raw = env.get("VCAP_APPLICATION")
    if not raw:
        return env
    try:
        vcap = json.loads(raw)
    except ValueError:
        return env
    if not isinstance(vcap, dict):
        return env
    vcap["host"] = "0.0.0.0"
    if env.get("PORT", "").isdigit():
        vcap["port"] = int(env["PORT"])
    if env.get("CF_INSTANCE_GUID"):
        vcap["instance_id"] = env["CF_INSTANCE_GUID"]
    if env.get("CF_INSTANCE_INDEX", "").isdigit():
        vcap["instance_index"] = int(env["CF_INSTANCE_INDEX"])
    return {**env, "VCAP_APPLICATION": json.dumps(vcap)}
