import shutil
import subprocess
import sys

import pytest

from foundry.healthcheck import result
from foundry.healthcheck.flags import FlagError, Options, parse_duration, parse_flags
from foundry.healthcheck.interface import _ip_addr_output, _usable, parse_fib_trie, parse_ip_addr
from foundry.healthcheck.result import PASSED, Result, classify_http, classify_tcp
from foundry.healthcheck.runner import run
from tests.support import REPO


@pytest.mark.parametrize("text,seconds", [("1000ms", 1.0), ("2s", 2), ("1m0s", 60),
                                          ("1m30s", 90), ("0", 0), ("1.5s", 1.5), ("1h", 3600)])
def test_go_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "10", "5x", "s"])
def test_bad_durations(bad):
    with pytest.raises(FlagError):
        parse_duration(bad)


def test_executor_style_flags():
    o = parse_flags(["-port=8080", "-timeout=1000ms", "-uri=/", "-startup-interval=2s",
                     "-startup-timeout=60s", "-liveness-interval=30s"])
    assert o == Options(port=8080, timeout=1.0, uri="/", startup_interval=2,
                        startup_timeout=60, liveness_interval=30)
    assert parse_flags(["--port", "9000", "-network=tcp"]).port == 9000
    assert parse_flags([]) == Options()


@pytest.mark.parametrize("argv", [["-nope=1"], ["-port"], ["-port=x"], ["stray"],
                                  ["-network=unix"]])
def test_bad_flags(argv):
    with pytest.raises(FlagError):
        parse_flags(argv)


def test_classification_codes():
    assert classify_tcp(None, 8080) is PASSED
    assert classify_tcp(ConnectionRefusedError(), 8080).code == 4
    assert classify_tcp(TimeoutError(), 8080).code == 64
    assert classify_http(ConnectionRefusedError(), None, "/", 8080).code == 5
    assert classify_http(TimeoutError(), None, "/", 8080).code == 65
    r = classify_http(None, 503, "/health", 8080)
    assert (r.code, r.message) == (6, "Failed to make HTTP request to '/health' on port 8080: "
                                      "received status code 503")
    assert classify_http(None, 204, "/", 8080).code == 6  # only 200 passes
    assert result.no_interface("x").code == 3


def test_ip_addr_skips_loopback():
    out = ("1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n"
           "42: eth0    inet 10.255.1.5/24 brd 10.255.1.255 scope global eth0\\ valid_lft\n")
    assert parse_ip_addr(out) == "10.255.1.5"
    assert parse_ip_addr(out.splitlines()[0]) is None


def test_fib_trie():
    text = """Main:
  +-- 0.0.0.0/0 3 0 5
     +-- 10.255.1.0/24 2 0 2
        |-- 10.255.1.0
           /32 link BROADCAST
        |-- 10.255.1.7
           /32 host LOCAL
     +-- 127.0.0.0/8 2 0 2
        |-- 127.0.0.1
           /32 host LOCAL
"""
    assert parse_fib_trie(text) == "10.255.1.7"


class Fake:
    def __init__(self, results):
        self.results = list(results)
        self.t = 0.0
        self.sleeps = []

    def check(self):
        return self.results.pop(0)

    def clock(self):
        return self.t

    def sleep(self, s):
        self.sleeps.append(s)
        self.t += s


FAIL = Result(4, "refused")


def test_single_check():
    f = Fake([FAIL])
    assert run(Options(), f.check, f.clock, f.sleep).code == 4


def test_startup_retries_then_liveness_until_failure():
    f = Fake([FAIL, FAIL, PASSED, PASSED, PASSED, Result(6, "status 500")])
    opts = Options(startup_interval=2, startup_timeout=60, liveness_interval=30)
    r = run(opts, f.check, f.clock, f.sleep)
    assert r.code == 6 and r.message.startswith("Instance became unhealthy")
    assert f.sleeps == [2, 2, 30, 30]


def test_startup_timeout():
    f = Fake([FAIL] * 100)
    r = run(Options(startup_interval=2, startup_timeout=10), f.check, f.clock, f.sleep)
    assert r.code == 4 and r.message.startswith("Instance never healthy after 10s")
    assert f.t == 10


def test_startup_only_passes():
    f = Fake([FAIL, PASSED])
    assert run(Options(startup_interval=2), f.check, f.clock, f.sleep).ok


@pytest.mark.parametrize(("addr", "usable"), [
    ("10.255.1.7", True), ("172.17.0.2", True), ("127.0.0.1", False), ("127.1.2.3", False),
    ("0.0.0.0", False), ("169.254.1.1", False), ("10.0.0", False), ("10.0.0.256", False),
    ("a.b.c.d", False), ("010.0.0.1", False), ("", False)])
def test_which_addresses_count(addr, usable):
    assert _usable(addr) is usable


def test_the_liveness_process_imports_nothing_heavy():
    """What the health check imports stays in the RSS of a process every app instance
    keeps for its life: no re, typing, dataclasses, subprocess or ipaddress (1.5 MB each
    for the first three in the stack image's Python)."""
    code = ("import sys; import foundry.healthcheck.__main__; print(' '.join(sorted(m for m in"
            " ('re', 'typing', 'dataclasses', 'subprocess', 'ipaddress', 'inspect')"
            " if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO, env={"PYTHONPATH": str(REPO)}).stdout
    assert out.strip() == ""


@pytest.mark.skipif(shutil.which("ip") is None, reason="no iproute2 on this host")
def test_the_ip_command_is_read_without_subprocess():
    out = _ip_addr_output()
    assert " lo " in out and "inet 127.0.0.1/8" in out, out
