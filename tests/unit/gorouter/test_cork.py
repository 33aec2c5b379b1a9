"""The write batch of the callback path (cork.py), with a fake loop and transports."""

from __future__ import annotations

from foundry.gorouter import cork
from foundry.gorouter.cork import Cork


class FakeLoop:
    def __init__(self) -> None:
        self.soon: list = []

    def call_soon(self, fn) -> None:
        self.soon.append(fn)

    def run_soon(self) -> None:
        soon, self.soon = self.soon, []
        for fn in soon:
            fn()


class FakeTransport:
    def __init__(self, log: list, name: str, closing: bool = False) -> None:
        self.log, self.name, self.closing = log, name, closing

    def write(self, data: bytes) -> None:
        self.log.append((self.name, data))

    def is_closing(self) -> bool:
        return self.closing


def test_little_in_flight_writes_at_once() -> None:
    loop, log = FakeLoop(), []
    c = Cork(loop)  # type: ignore[arg-type]
    c.in_flight = cork.CORK_FROM - 1
    assert c.write(FakeTransport(log, "a"), b"1") == -1  # type: ignore[arg-type]
    assert log == [("a", b"1")] and not loop.soon


def test_writes_in_one_batch_go_out_together_in_order_after_it() -> None:
    loop, log = FakeLoop(), []
    c = Cork(loop)  # type: ignore[arg-type]
    c.in_flight = cork.CORK_FROM
    a, b, gone = FakeTransport(log, "a"), FakeTransport(log, "b"), FakeTransport(log, "x", True)
    gen = c.write(a, b"1")  # type: ignore[arg-type]
    c.write(gone, b"lost")  # type: ignore[arg-type]
    c.in_flight = 0  # queued writes keep later ones queued too, so none overtakes them
    c.write(b, b"2")  # type: ignore[arg-type]
    c.write(a, b"3")  # type: ignore[arg-type]
    assert log == [] and len(loop.soon) == 1 and c.pending_on(gen)
    loop.run_soon()
    assert log == [("a", b"1"), ("b", b"2"), ("a", b"3")]  # the closing transport's dropped
    assert not c.pending_on(gen)


def test_a_flush_made_early_leaves_nothing_for_the_scheduled_one() -> None:
    loop, log = FakeLoop(), []
    c = Cork(loop)  # type: ignore[arg-type]
    c.in_flight = cork.CORK_FROM
    gen = c.write(FakeTransport(log, "a"), b"1")  # type: ignore[arg-type]
    c.flush()  # what a connection does before a direct write
    assert log == [("a", b"1")] and not c.pending_on(gen)
    loop.run_soon()
    assert log == [("a", b"1")]
