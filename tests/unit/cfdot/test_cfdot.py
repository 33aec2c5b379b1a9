import io

import pytest

from foundry.cli import cfdot


def test_line_is_compact_go_style():
    assert cfdot.encode_line({"a": [1, 2], "b": "x<y&z>"}) == (
        '{"a":[1,2],"b":"x\\u003cy\\u0026z\\u003e"}\n')


def test_groups_wrap_instance(monkeypatch):
    monkeypatch.setattr(cfdot, "fetch_json", lambda base, path, params: [{"index": 0}])
    out = io.StringIO()
    assert cfdot.main(["--bbsURL", "http://x", "actual-lrp-groups"], out=out) == 0
    assert out.getvalue() == '{"instance":{"index":0}}\n'


def test_filters_passed_to_bbs(monkeypatch):
    seen = {}

    def fake(base, path, params):
        seen.update(base=base.url, path=path, params=params)
        return []
    monkeypatch.setattr(cfdot, "fetch_json", fake)
    monkeypatch.setenv("BBS_URL", "http://bbs:8889")
    assert cfdot.main(["actual-lrps", "-d", "cf-apps", "--cell-id", "cell-1", "-p", "pg",
                       "-i", "2"], out=io.StringIO()) == 0
    assert seen == {"base": "http://bbs:8889", "path": "/v1/actual_lrps",
                    "params": {"domain": "cf-apps", "cell_id": "cell-1",
                               "process_guid": "pg", "index": 2}}


def test_unreachable_exit_5():
    err = io.StringIO()
    assert cfdot.main(["--bbsURL", "http://127.0.0.1:1", "cells"], out=io.StringIO(),
                      err=err) == 5
    assert "unreachable" in err.getvalue()


@pytest.mark.parametrize("argv", [[], ["nope"], ["actual-lrps", "-i", "x"], ["desired-lrp"]])
def test_bad_args_exit_3(argv, capsys):
    assert cfdot.main(argv, out=io.StringIO()) == 3
    assert "usage" in capsys.readouterr().err
