"""Broken config files, given to real Envoy and to cflab's proxy alike.

What real Envoy 1.40 does (measured with these very tests): a replaced SDS file it
cannot parse is an `update_failure` ("Filesystem config update failure: in <path>,
..."); a key that does not match its certificate is an `update_rejected`
("Filesystem config update rejected: ..."); an unknown field is warned about
("Unknown field: ..."), counted in `server.dynamic_unknown_fields` and the rest
applied; a deleted SDS file changes nothing. In every case the last good
certificate keeps being served and the next good file is picked up. A bootstrap
naming a missing SDS file does not start.
"""

from __future__ import annotations

import pytest
import yaml

from tests.integration.envoy.twin import KINDS, SDS_CERT, Twin
from tests.support import wait_for


@pytest.fixture(params=KINDS)
def twin(request, tmp_path, pki, backend):
    t = Twin(request.param, tmp_path, pki, backend)
    t.write_all()
    t.start()
    yield t
    t.stop()


def sds_text(twin: Twin, cred, edit=None) -> str:
    doc = yaml.safe_load(twin.render(cred)[SDS_CERT])
    if edit:
        edit(doc["resources"][0])
    return yaml.safe_dump(doc)


def still_serving_then_rotates(twin: Twin, pki) -> None:
    assert twin.serial() == twin.cred.cert.serial_number
    _, new = pki.instance()
    twin.write(SDS_CERT, sds_text(twin, new))
    wait_for(lambda: twin.serial() == new.cert.serial_number, timeout=10,
             what=f"{twin.kind} serving the next good certificate")


def test_key_not_matching_the_certificate_is_rejected(twin, pki):
    _, other = pki.instance()

    def foreign_key(secret):
        secret["tls_certificate"]["private_key"]["inline_string"] = other.key_pem.decode()
    twin.write(SDS_CERT, sds_text(twin, twin.cred, foreign_key))
    wait_for(lambda: twin.stat("sds.id-cert-and-key.update_rejected") == 1, timeout=10,
             what="update_rejected")
    assert "Filesystem config update rejected" in twin.logs()
    assert "KEY_VALUES_MISMATCH" in twin.logs()
    still_serving_then_rotates(twin, pki)


def test_truncated_yaml_is_an_update_failure(twin, pki):
    text = sds_text(twin, twin.cred)
    twin.write(SDS_CERT, text[: len(text) // 2])
    wait_for(lambda: twin.stat("sds.id-cert-and-key.update_failure") == 1, timeout=10,
             what="update_failure")
    assert f"Filesystem config update failure: in {twin.dir / SDS_CERT}," in twin.logs()
    assert twin.stat("sds.id-cert-and-key.update_rejected") == 0
    still_serving_then_rotates(twin, pki)


def test_an_unknown_field_is_warned_about_and_the_rest_applied(twin, pki):
    _, new = pki.instance()
    twin.write(SDS_CERT, sds_text(twin, new, lambda s: s.update(bogus_field=1)))
    wait_for(lambda: twin.stat("server.dynamic_unknown_fields") == 1, timeout=10,
             what="dynamic_unknown_fields")
    assert "Unknown field" in twin.logs() and "bogus_field" in twin.logs()
    wait_for(lambda: twin.serial() == new.cert.serial_number, timeout=10, what="applied")


def test_a_deleted_sds_file_changes_nothing(twin, pki):
    (twin.dir / SDS_CERT).unlink()
    for _ in range(3):  # a few new handshakes, over more than cflab's poll interval
        assert twin.serial() == twin.cred.cert.serial_number
    assert twin.stat("sds.id-cert-and-key.update_rejected") == 0
    assert twin.stat("sds.id-cert-and-key.update_failure") == 0
    still_serving_then_rotates(twin, pki)


@pytest.mark.parametrize("kind", KINDS)
def test_a_bootstrap_naming_a_missing_sds_file_does_not_start(kind, tmp_path, pki, backend):
    twin = Twin(kind, tmp_path, pki, backend)
    twin.write_all()
    (tmp_path / SDS_CERT).unlink()
    twin.start(wait=False)
    try:
        assert twin.proc.wait(30) == 1
    finally:
        twin.stop()
    assert (f"paths must refer to an existing path in the system: '{tmp_path / SDS_CERT}'"
            " does not exist") in twin.logs()
