"""The netns agent's long-lived session: Docker's multiplexed stream taken apart, the
server script run for real (as a local process), and a session that ends for good."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading

import pytest

from foundry.rep.agent_session import (
    HEADER,
    SERVER,
    STDERR,
    STDOUT,
    AgentSession,
    Frames,
    SessionError,
    parse_answer,
)


def frame(stream: int, data: bytes) -> bytes:
    return HEADER.pack(stream, len(data)) + data


def test_frames_split_stdout_lines_and_keep_stderr_apart_in_any_chunking():
    data = frame(STDOUT, b'{"out": "a"}\n{"ou') + frame(STDERR, b"warn\n") + frame(
        STDOUT, b't": "b"}\n')
    for size in (1, 3, 7, len(data)):
        f, lines = Frames(), []
        for i in range(0, len(data), size):
            f.feed(data[i:i + size])
            while (line := f.line()) is not None:
                lines.append(line)
        assert lines == [b'{"out": "a"}', b'{"out": "b"}'] and f.stderr == b"warn\n"


def test_a_stream_that_is_not_docker_frames_is_an_error():
    with pytest.raises(SessionError, match="not a Docker stream frame"):
        Frames().feed(b"HTTP/1.1 500 Internal Server Error\r\n")


def test_an_answer_is_the_scripts_output_or_its_failure():
    assert parse_answer(b'{"out": "{}\\n"}') == "{}\n"
    with pytest.raises(SessionError, match="the script failed: ValueError"):
        parse_answer(b'{"error": "ValueError: bad"}')
    with pytest.raises(SessionError, match="unreadable"):
        parse_answer(b"Traceback (most recent")


class FakeAPI:
    """An exec whose stream is one end of a socketpair; the other end runs SERVER as a
    local process, framing its stdout and stderr as Docker does."""

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair()
        self.created: list[list[str]] = []

    def exec_create(self, cid: str, cmd: list[str], stdin: bool = False) -> dict:
        assert stdin and cmd[:4] == ["python3", "-u", "-c", SERVER]
        self.created.append(cmd)
        return {"Id": "exec-1"}

    def exec_start(self, exec_id: str, socket: bool = False):  # noqa: ANN201
        proc = subprocess.Popen([sys.executable, "-u", "-c", SERVER, self.created[0][4]],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

        def pump(pipe, stream: int) -> None:  # noqa: ANN001
            with contextlib.suppress(OSError):  # the test ended the session or the process
                while data := pipe.read1(65536):
                    self.theirs.sendall(frame(stream, data))

        def feed() -> None:
            with contextlib.suppress(OSError):
                while data := self.theirs.recv(65536):
                    proc.stdin.write(data)
                    proc.stdin.flush()
                proc.stdin.close()

        for target, args in ((pump, (proc.stdout, STDOUT)), (pump, (proc.stderr, STDERR)),
                             (feed, ())):
            threading.Thread(target=target, args=args, daemon=True).start()
        self.proc = proc
        return self.ours


SCRIPT = """
import json, sys
if sys.argv[1] == "boom":
    raise ValueError("asked to fail")
print(json.dumps({"args": sys.argv[1:]}))
"""


def test_one_process_answers_request_after_request():
    api = FakeAPI()
    session = AgentSession(api, "agent", SCRIPT, timeout=20)
    for i in range(3):
        assert json.loads(session.ask([f"a{i}", "b"])) == {"args": [f"a{i}", "b"]}
    assert len(api.created) == 1  # one exec for every request
    with pytest.raises(SessionError, match="ValueError: asked to fail"):
        session.ask(["boom"])
    assert json.loads(session.ask(["after"])) == {"args": ["after"]}  # it keeps serving
    session.close()
    api.proc.wait(timeout=10)  # its stdin ended: the process in the agent ends


def test_a_session_whose_process_ended_says_so_and_stays_ended():
    api = FakeAPI()
    session = AgentSession(api, "agent", SCRIPT, timeout=20)
    api.proc.kill()
    api.proc.wait()
    api.theirs.shutdown(socket.SHUT_WR)
    with pytest.raises(SessionError, match="ended"):
        session.ask(["x"])
    assert session.closed
    with pytest.raises(SessionError, match="ended"):
        session.ask(["x"])
