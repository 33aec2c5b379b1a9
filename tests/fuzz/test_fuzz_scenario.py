"""The scenario YAML schema under fuzzed input.

Properties: every shipped scenario, mutated anywhere, parses or raises ScenarioError
naming a field (never another exception); YAML text that is not a scenario is a
ScenarioError too; nothing takes long; parsing is deterministic.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from orchestrator.scenario import schema
from orchestrator.scenario.schema import ScenarioError
from tests.fuzz.fuzzlib import corpus, share, timed
from tests.fuzz.test_fuzz_envoy_config import mutated, values, yaml_text

SCENARIOS = {name: yaml.safe_load(path.read_text()) for name, path in schema.discover().items()}


def parse_or_error(doc):
    try:
        # a parse reads the foundation defaults (~0.1 s): a hang is 50x that
        return timed(schema.parse, doc, "fuzz.yml", limit=5.0)
    except ScenarioError as e:
        assert str(e).startswith("fuzz.yml: "), e
        return e


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_shipped_scenarios_parse(name: str) -> None:
    assert not isinstance(parse_or_error(SCENARIOS[name]), ScenarioError)


@share(0.3)
@given(st.sampled_from(sorted(SCENARIOS)).flatmap(lambda n: mutated(SCENARIOS[n])))
@example({"name": "x", "apps": [{"name": "a"}], "foundation": {"timings": {"t": 10**400}}})
@example({"name": "x", "apps": [{"name": "a"}], "foundation": {"timings": {"t": float("nan")}}})
@example({"name": "x", "apps": [{"name": "a"}], "steps": [{"observe": float("inf")}]})
def test_mutated_scenario_parses_or_names_the_field(doc) -> None:
    first = parse_or_error(doc)
    if not isinstance(first, ScenarioError):
        assert parse_or_error(doc) == first


@share(0.3)
@given(st.one_of(yaml_text, values.map(yaml.safe_dump)))
@example("a: 2001-13-01")
@example("!!float")
def test_scenario_file_loads_or_is_a_scenario_error(tmp_path_factory, text: str) -> None:
    path = Path(tmp_path_factory.mktemp("s")) / "s.yml"
    path.write_text(text, errors="surrogatepass")
    try:
        timed(schema.load_file, path, limit=5.0)
    except ScenarioError as e:
        assert str(e).startswith(str(path)), e


@pytest.mark.parametrize("data", corpus("scenario_yaml"))
def test_scenario_corpus(tmp_path, data: bytes) -> None:
    path = tmp_path / "s.yml"
    path.write_bytes(data)
    try:
        schema.load_file(path)
    except ScenarioError:
        pass
