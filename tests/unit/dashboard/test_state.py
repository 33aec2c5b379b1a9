"""The dashboard's change logic: what a collector's new view pushes, and query checks."""

import json

import pytest

from foundry.dashboard.state import QueryError, State, diff, parse_query, sse_event


def test_diff_sets_changed_and_new_rows_and_removes_gone_ones():
    old = {"a": {"x": 1}, "b": {"x": 2}, "c": {"x": 3}}
    new = {"a": {"x": 1}, "b": {"x": 20}, "d": {"x": 4}}
    patch = diff("jobs", old, new)
    assert patch.set == {"b": {"x": 20}, "d": {"x": 4}}
    assert patch.removed == ["c"]


def test_diff_of_equal_views_is_nothing():
    assert diff("jobs", {"a": {"x": [1, 2]}}, {"a": {"x": [1, 2]}}) is None


def test_state_replace_pushes_once_per_change_and_bumps_seq():
    st = State()
    assert st.replace("jobs", {"router": {"health": "healthy"}}).set == {
        "router": {"health": "healthy"}}
    assert st.seq == 1
    assert st.replace("jobs", {"router": {"health": "healthy"}}) is None
    assert st.seq == 1
    patch = st.replace("jobs", {"router": {"health": "down"}})
    assert patch.set["router"]["health"] == "down" and st.seq == 2


def test_state_update_keeps_other_rows():
    st = State()
    st.replace("cells", {"cell-1": {"present": True}, "cell-2": {"present": True}})
    patch = st.update("cells", {"cell-2": {"present": False}})
    assert patch.removed == [] and list(patch.set) == ["cell-2"]
    assert st.sections["cells"]["cell-1"] == {"present": True}


def test_state_rejects_an_unknown_section():
    with pytest.raises(KeyError):
        State().replace("nope", {})


def test_snapshot_filters_sections_and_limits_requests():
    st = State()
    st.replace("jobs", {"bbs": {"health": "healthy"}})
    st.add_requests([{"n": i} for i in range(10)])
    snap = st.snapshot(("jobs",), requests=3)
    assert list(snap["sections"]) == ["jobs"]
    assert snap["requests"] == [{"n": 7}, {"n": 8}, {"n": 9}]


def test_sse_event_framing():
    raw = sse_event("patch", {"a": "b\nc"}, 7).decode()
    assert raw.startswith("event: patch\nid: 7\ndata: ")
    assert raw.endswith("\n\n") and raw.count("\n") == 4  # JSON keeps the newline escaped
    assert json.loads(raw.split("data: ", 1)[1]) == {"a": "b\nc"}


ALLOWED = {"sections": "sections", "requests": "int"}


def test_parse_query_accepts_known_values():
    assert parse_query({"sections": ["jobs,routes"], "requests": ["5"]}, ALLOWED) == {
        "sections": ("jobs", "routes"), "requests": 5}


@pytest.mark.parametrize("query, words", [
    ({"foo": ["1"]}, "unknown parameter 'foo'"),
    ({"sections": ["jobs,bogus"]}, "sections:"),
    ({"sections": [""]}, "sections:"),
    ({"requests": ["-1"]}, "requests:"),
    ({"requests": ["ten"]}, "requests:"),
    ({"requests": ["100000"]}, "requests:"),
    ({"requests": ["1", "2"]}, "more than once"),
])
def test_parse_query_rejects_malformed_values(query, words):
    with pytest.raises(QueryError, match=words.replace("(", r"\(")):
        parse_query(query, ALLOWED)


def test_a_cc_url_needs_uaa_and_a_ca():
    import pytest

    from foundry.dashboard.config import ConfigError, from_dict

    with pytest.raises(ConfigError, match="uaa_url, cc_ca_cert_file"):
        from_dict({"bbs_address": "http://bbs:8889", "cc_url": "https://api:9022"})
    cfg = from_dict({"bbs_address": "http://bbs:8889", "cc_url": "https://api:9022",
                     "uaa_url": "https://uaa:8443", "cc_ca_cert_file": "/ca.crt"})
    assert cfg.uaa_client == "cflab-dashboard" and cfg.cc_poll_interval == 5.0
