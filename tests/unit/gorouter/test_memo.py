"""The router's bounded memo: one call per distinct input while there is room."""

from __future__ import annotations

from foundry.gorouter.memo import Memo


def test_a_key_is_worked_out_once_and_the_table_stays_bounded() -> None:
    calls: list[str] = []

    def shout(s: str) -> str:
        calls.append(s)
        return s.upper()

    memo = Memo(shout, 3)
    assert memo.get("a") is None  # a miss, without working anything out
    assert [memo("a"), memo("a"), memo("b")] == ["A", "A", "B"]
    assert calls == ["a", "b"] and memo.get("a") == "A"
    for key in "cdefg":
        memo(key)
    assert len(memo.table) <= 3  # cleared when full, never grown past its size
    assert memo("g") == "G" and calls.count("g") == 1
    assert memo.get.__self__ is memo.table  # still the live table's lookup after a clear
