"""platform and stack rebuild from the checkout once per process, not once per foundation."""

from __future__ import annotations

import pytest

from orchestrator import images


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    present: set[str] = {images.ref("base"), images.ref("nats")}
    monkeypatch.setattr(images, "_BUILT_HERE", set())
    monkeypatch.setattr(images, "fetch_wheels", lambda *a: None)
    monkeypatch.setattr(images, "image_exists", lambda ref: ref in present)

    def docker_build(name: str, context) -> None:
        made.append(name)
        present.add(images.ref(name))
    monkeypatch.setattr(images, "docker_build", docker_build)
    return made


def test_a_second_foundation_in_the_same_process_builds_nothing(builds: list[str]) -> None:
    assert images.build() == ["platform", "stack"]
    assert images.build() == []
    assert builds == ["platform", "stack"]


def test_force_and_a_removed_image_build_again(builds: list[str], monkeypatch) -> None:
    images.build()
    assert images.build(("stack",), force=True) == ["stack"]
    monkeypatch.setattr(images, "image_exists", lambda ref: ref != images.ref("platform"))
    assert images.build(("platform", "stack")) == ["platform"]
