"""cert_rotated waits for a rotation, not for the second instance of a round-robin."""

from __future__ import annotations

from types import SimpleNamespace

from orchestrator.scenario.classify import ERROR, INTENDED, Sample
from orchestrator.scenario.conditions import cert_rotated


def run_answering(*answers: tuple[str, str]) -> SimpleNamespace:
    samples = iter(Sample(t=0, route="web", outcome=INTENDED, status=200, answered_by="web",
                          instance_guid=guid, cert_serial=serial) for guid, serial in answers)
    return SimpleNamespace(probe=lambda app: next(samples))


def test_two_instances_in_turn_are_not_a_rotation_and_a_new_serial_is() -> None:
    rotated = cert_rotated(run_answering(("ig-a", "s1"), ("ig-b", "s2"), ("ig-a", "s1"),
                                         ("ig-b", "s2"), ("ig-a", "s3")), {"app": "web"})
    assert [rotated() for _ in range(5)] == [False, False, False, False, True]


def test_an_error_or_a_misroute_never_counts() -> None:
    samples = iter([
        Sample(t=0, route="web", outcome=INTENDED, status=200, instance_guid="ig-a",
               cert_serial="s1"),
        Sample(t=0, route="web", outcome=ERROR, status=503),
        Sample(t=0, route="web", outcome="misrouted", status=200, instance_guid="ig-a",
               cert_serial="other")])
    rotated = cert_rotated(SimpleNamespace(probe=lambda app: next(samples)), {"app": "web"})
    assert [rotated() for _ in range(3)] == [False, False, False]
