"""NATS protocol parsing and route-registration validation under fuzzed input.

Properties: the parser yields items or raises ProtocolError and always terminates; how
bytes are split across reads does not change what is parsed; a registry payload is
accepted or refused with InvalidRegistryMessage (never another error); an accepted
message, encoded again, decodes to the same message; the route table's counts stay
consistent whatever sequence of registers and unregisters arrives.
"""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from foundry.gorouter.nats_client import MSG, ProtocolError, ProtocolParser
from foundry.gorouter.registry import InvalidRegistryMessage, Registry, parse_registry_message
from tests.fuzz.fuzzlib import corpus, share, timed

subjects = st.sampled_from([b"router.register", b"router.unregister", b"router.greet",
                            b"_INBOX.x", b"a"])


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["MSG", "MSGR", "HMSG", "PING", "PONG", "OK", "INFO", "ERR"]))
    if kind in ("MSG", "MSGR"):
        payload = draw(st.binary(max_size=40))
        reply = b" _INBOX.r" if kind == "MSGR" else b""
        return (b"MSG " + draw(subjects) + b" 1" + reply + b" %d\r\n" % len(payload)
                + payload + b"\r\n")
    if kind == "HMSG":
        hdr = b"NATS/1.0\r\nX: y\r\n\r\n"
        payload = draw(st.binary(max_size=20))
        return (b"HMSG " + draw(subjects) + b" 1 %d %d\r\n" % (len(hdr), len(hdr) + len(payload))
                + hdr + payload + b"\r\n")
    return {"PING": b"PING\r\n", "PONG": b"PONG\r\n", "OK": b"+OK\r\n",
            "INFO": b'INFO {"server_id":"x","max_payload":1048576}\r\n',
            "ERR": b"-ERR 'Stale Connection'\r\n"}[kind]


noise = st.one_of(st.binary(max_size=30), st.sampled_from([
    b"MSG a 1 -15\r\n", b"MSG a 1 +2\r\nab\r\n", b"MSG a 1 1_0\r\n", b"MSG\r\n", b"HMSG a 1 5 2\r\n",
    b"HMSG a 1 -1 3\r\n", b"PING", b"\r\n", b"MSG a 1 99999999999999999999\r\n"]))


def feed_all(pieces: list[bytes]) -> list[tuple] | str:
    p = ProtocolParser()
    out: list[tuple] = []
    try:
        for piece in pieces:
            out += timed(p.feed, piece)
    except ProtocolError:
        return "ProtocolError"
    return out


@given(st.lists(st.one_of(frames(), noise), max_size=8).map(b"".join))
@example(b"PING\r\nMSG a 1 -15\r\n")
def test_parser_yields_items_or_protocol_error(stream: bytes) -> None:
    feed_all([stream])


@given(st.lists(frames(), min_size=1, max_size=8), st.lists(st.integers(0, 600)))
def test_valid_stream_parses_the_same_however_it_is_split(frame_list: list[bytes],
                                                          cuts: list[int]) -> None:
    stream = b"".join(frame_list)
    points = sorted({c for c in cuts if c <= len(stream)})
    pieces = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    whole = feed_all([stream])
    assert whole != "ProtocolError"
    assert feed_all(pieces) == whole
    assert sum(1 for i in whole if i[0] == MSG) == sum(
        1 for f in frame_list if f.startswith((b"MSG ", b"HMSG ")))


# -- registry messages --------------------------------------------------------------
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
              st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)
KEYS = ["host", "port", "tls_port", "uris", "app", "private_instance_id", "tags",
        "private_instance_index", "server_cert_domain_san", "stale_threshold_in_seconds",
        "route_service_url", "isolation_segment", "endpoint_updated_at_ns", "protocol",
        "availability_zone", "options", "Host", "PORT", "Uris"]
good_values = {
    "host": st.sampled_from(["10.0.0.1", "127.0.0.1", ""]),
    "port": st.integers(0, 70000), "tls_port": st.integers(-1, 65536),
    "uris": st.lists(st.sampled_from(["a.example.com", "A.Example.com/p/", "b.example.com/x?y",
                                      "*.example.com", "", "/"]), max_size=3),
    "tags": st.dictionaries(st.sampled_from(["component", "x"]), st.text(max_size=4), max_size=2),
    "route_service_url": st.sampled_from(["", "https://rs", "http://rs"]),
    "options": st.fixed_dictionaries({"loadbalancing": st.sampled_from(
        ["round-robin", "least-connection", "bogus"])}),
}


@st.composite
def registry_payloads(draw: st.DrawFn) -> bytes:
    msg = {}
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=8, unique=True)):
        typed = good_values.get(key)
        msg[key] = draw(typed) if typed is not None and draw(st.booleans()) else draw(json_values)
    return json.dumps(msg).encode()


def parse_or_invalid(payload: bytes):
    try:
        return timed(parse_registry_message, payload)
    except InvalidRegistryMessage as e:
        return e


@given(st.one_of(registry_payloads(), st.binary(max_size=60),
                 json_values.map(lambda v: json.dumps(v).encode())))
@example(b'{"uris":' * 5000)
@example(b'{"port": 1e400}')
@example(b'{"port": 18446744073709551616}')
def test_registry_payload_is_accepted_or_invalid(payload: bytes) -> None:
    parse_or_invalid(payload)


def encode(msg) -> bytes:
    d = msgspec.structs.asdict(msg)
    d["options"] = msgspec.structs.asdict(msg.options) if msg.options is not None else None
    return json.dumps(d).encode()


@given(registry_payloads())
def test_accepted_registry_message_reencodes_identically(payload: bytes) -> None:
    msg = parse_or_invalid(payload)
    if isinstance(msg, InvalidRegistryMessage):
        return
    again = parse_registry_message(encode(msg))
    assert again == msg
    assert encode(again) == encode(msg)


@share(0.25)
@given(st.lists(st.tuples(st.sampled_from(["router.register", "router.unregister"]),
                          registry_payloads()), max_size=10))
def test_route_table_counts_stay_consistent(ops: list[tuple[str, bytes]]) -> None:
    reg = Registry(clock=lambda: 1000.0)
    accepted = []
    for subject, payload in ops:
        try:
            timed(reg.handle, subject, payload)
        except InvalidRegistryMessage:
            continue
        accepted.append(parse_registry_message(payload))
    pools = list(reg.table.items())
    assert len(reg.table) == len(pools)
    assert reg.num_endpoints() == sum(len(p.by_key) for _, _, p in pools)
    for msg in accepted:
        reg.unregister(msg)
    assert reg.num_endpoints() == 0 and len(reg.table) == 0


@pytest.mark.parametrize("data", corpus("nats_protocol"))
def test_nats_corpus(data: bytes) -> None:
    feed_all([data])


@pytest.mark.parametrize("line", [b"MSG a 1 -2\r\n", b"PING\r\nMSG a 1 -15\r\n",
                                  b"MSG a 1 +2\r\nab\r\n", b"HMSG a 1 -1 3\r\nabc\r\n",
                                  b"HMSG 1 2\r\n"])
def test_size_that_is_not_plain_digits_is_a_protocol_error(line: bytes) -> None:
    """Regression (found by fuzzing): int() took "-15", and a negative size stepped the
    parser back onto the same MSG line forever, freezing the router's event loop."""
    with pytest.raises(ProtocolError):
        timed(ProtocolParser().feed, line)
