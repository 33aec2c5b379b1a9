"""docs/scenarios.md is generated from the table: it must match, and its examples parse."""

from __future__ import annotations

import re

import pytest
import yaml

from orchestrator import config
from orchestrator.scenario import reference, schema
from orchestrator.scenario.table import CONDITIONS, KINDS


def test_docs_scenarios_md_is_the_generated_reference():
    assert reference.DOC.read_text() == reference.render(), (
        "docs/scenarios.md is out of date with the step-kind table: run"
        " `python -m orchestrator.scenario.reference -o docs/scenarios.md`")


def test_it_covers_every_kind_condition_and_timing():
    text = reference.render()
    for name in [*KINDS, *CONDITIONS]:
        assert f"### `{name}`" in text, name
    assert set(reference.TIMINGS) == set(config.defaults()["timings"]), \
        "describe the new timing in reference.TIMINGS"
    for metric, _, _ in reference.METRICS:
        assert f"`{metric}`" in text


@pytest.mark.parametrize("example", [k.example for k in KINDS.values()]
                         + [c.example for c in CONDITIONS.values()])
def test_every_step_example_is_a_valid_step(example):
    sc = schema.parse(reference.example_scenario(example), "example")
    assert sc.steps[-1].kind == next(iter(yaml.safe_load(example)))


def test_every_yaml_block_in_the_reference_parses():
    blocks = re.findall(r"```yaml\n(.*?)```", reference.render(), re.S)
    assert len(blocks) > len(KINDS) + len(CONDITIONS)
    for block in blocks:
        assert yaml.safe_load(block) is not None, block
    sc = schema.parse(yaml.safe_load(reference.EXAMPLE), "the opening example")
    assert sc.modes == ("strict",)


@pytest.mark.parametrize("metric, example", [(m, e) for m, _, e in reference.METRICS])
def test_every_expectation_example_parses(metric, example):
    (key, value), = yaml.safe_load(example).items()
    exp = schema.parse_expectation(key, value, "expect.all")
    assert exp.metric.split(".")[0] == metric.split(".")[0]


GUIDE = reference.DOC.with_name("reproduce-your-incident.md")


def test_the_guide_ends_with_the_scenario_the_tests_run():
    blocks = re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), re.S)
    shipped = schema.discover()["router-restart-under-load"]
    assert blocks[-1] == shipped.read_text()
    sc = schema.load_file(shipped)
    assert sc.modes == ("strict",)
    assert {s.kind for s in sc.steps} >= {"restart_job", "wait", "mark"}


def test_the_guides_step_table_names_real_kinds():
    rows = re.findall(r"^\| .*? \| (.+) \|$", GUIDE.read_text(), re.M)
    kinds = {k for row in rows for k in re.findall(r"`([a-z_]+)(?::|`)", row)}
    assert kinds and kinds <= set(KINDS), kinds - set(KINDS)
