"""One long-lived process in the cell's netns agent that runs a script per request, as
Garden reads a container's cgroup in-process on a real cell.

A `docker exec` per metrics round cost runc, the shim and dockerd ~0.5% of a core per
cell at 50 instances a cell (measured), for a script that reads a few files. The
session keeps one exec open instead: each request is a JSON line on its stdin (the
script's arguments), each answer a JSON line on its stdout. Docker multiplexes an exec's
stdout and stderr on one stream without a TTY (`Frames` takes them apart).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from typing import Any

# Runs in the agent: the script (argv[1]) once per request line, its stdout the answer.
SERVER = """
import contextlib, io, json, sys
code = compile(sys.argv[1], "agent-session", "exec")
for line in sys.stdin:
    sys.argv = ["agent-session", *json.loads(line)]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(code, {"__name__": "__main__"})
        answer = {"out": out.getvalue()}
    except BaseException as exc:
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(answer) + "\\n")
    sys.stdout.flush()
"""
HEADER = struct.Struct(">BxxxL")  # Docker's stream frame: stream (1 out, 2 err), size
STDOUT, STDERR = 1, 2
MAX_ANSWER = 64 * 1024 * 1024


class SessionError(RuntimeError):
    """The session cannot answer (it ended, timed out, or said something unreadable)."""


class Frames:
    """Docker's multiplexed exec stream, fed in arbitrary chunks: stdout's bytes, split
    into lines; stderr's kept apart (a script's traceback)."""

    def __init__(self) -> None:
        self._pending = b""
        self.stdout = b""
        self.stderr = b""

    def feed(self, data: bytes) -> None:
        self._pending += data
        while len(self._pending) >= HEADER.size:
            stream, size = HEADER.unpack_from(self._pending)
            if stream not in (0, STDOUT, STDERR) or size > MAX_ANSWER:
                raise SessionError(f"not a Docker stream frame (stream {stream}, {size} bytes)")
            end = HEADER.size + size
            if len(self._pending) < end:
                return
            payload, self._pending = self._pending[HEADER.size:end], self._pending[end:]
            if stream == STDERR:
                self.stderr = (self.stderr + payload)[-4096:]
            else:
                self.stdout += payload

    def line(self) -> bytes | None:
        """The next whole stdout line, else None."""
        if b"\n" not in self.stdout:
            return None
        line, _, self.stdout = self.stdout.partition(b"\n")
        return line


def parse_answer(line: bytes) -> str:
    """The script's stdout from one answer line; SessionError for its failure."""
    try:
        answer = json.loads(line)
    except ValueError:
        raise SessionError(f"unreadable answer {line[:200]!r}") from None
    if not isinstance(answer, dict):
        raise SessionError(f"unreadable answer {line[:200]!r}")
    if "error" in answer:
        raise SessionError(f"the script failed: {answer['error']}")
    return str(answer.get("out", ""))


class AgentSession:
    """`ask` runs the script with arguments in the agent's long-lived process. Any
    failure ends the session (the caller makes a new one, or falls back to an exec)."""

    def __init__(self, api: Any, agent_id: str, script: str, timeout: float = 60.0) -> None:
        self.agent_id = agent_id
        exec_id = api.exec_create(agent_id, ["python3", "-u", "-c", SERVER, script],
                                  stdin=True)["Id"]
        stream = api.exec_start(exec_id, socket=True)
        self._sock: socket.socket = getattr(stream, "_sock", stream)
        self._sock.settimeout(timeout)
        self._frames = Frames()
        self._lock = threading.Lock()
        self.closed = False

    def ask(self, args: list[str]) -> str:
        with self._lock:
            if self.closed:
                raise SessionError("the session ended")
            try:
                self._sock.sendall((json.dumps(args) + "\n").encode())
                while (line := self._frames.line()) is None:
                    data = self._sock.recv(65536)
                    if not data:
                        why = self._frames.stderr.decode(errors="replace").strip()[-300:]
                        raise SessionError("the agent's process ended" + (f": {why}" if why else ""))
                    self._frames.feed(data)
            except (OSError, SessionError) as exc:
                self._close()
                raise SessionError(str(exc) or type(exc).__name__) from None
        return parse_answer(line)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            try:  # its stdin ends: the process in the agent ends too
                self._sock.close()
            except OSError:
                pass
