"""The environment of a `cf ssh` session, as Diego's sshd builds it.

Diego starts its ssh daemon in the container with the instance's environment
(``CF_INSTANCE_*``, ``VCAP_APPLICATION``, ``VCAP_SERVICES``, ``PORT``...: the run
step's env) and ``-inheritDaemonEnv``. Each session then gets (diego-ssh
``handlers/session_channel_handler.go`` ``environment()``): ``PATH=/bin:/usr/bin``,
``LANG=en_US.UTF8``, the daemon's environment without ``PATH``, ``TERM`` when a
terminal was asked for, and the daemon's own ``HOME`` and ``USER``.

`cf ssh` here reaches the container with ``docker exec`` (no ssh-proxy yet): it runs
``python3 -m foundry.diego_ssh [-c COMMAND]`` as root in the container, which reads
the ssh daemon's environment from ``/proc``, drops to the daemon's user and execs the
shell. A real ssh path can call :func:`session_environment` the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

SHELL = "/bin/bash"
DAEMON_NAMES = ("sshd", "diego-sshd")


class NoDaemon(RuntimeError):
    pass


def parse_environ(raw: bytes) -> dict[str, str]:
    """``/proc/<pid>/environ``: NUL-separated NAME=value entries."""
    env: dict[str, str] = {}
    for entry in raw.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if sep and name:
            env[name.decode(errors="replace")] = value.decode(errors="replace")
    return env


def daemon_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """What ``-inheritDaemonEnv`` keeps of the daemon's environment: all but PATH."""
    return {k: v for k, v in environ.items() if k != "PATH"}


def session_environment(daemon_env: Mapping[str, str], term: str | None = None,
                        requested: Mapping[str, str] | None = None) -> dict[str, str]:
    """A session's environment: fixed PATH and LANG, the daemon's variables (and any the
    client sent), TERM with a terminal, then the daemon's HOME and USER."""
    env = {"PATH": "/bin:/usr/bin", "LANG": "en_US.UTF8"}
    session = daemon_environment(daemon_env)
    session.update(requested or {})
    if term:
        session["TERM"] = term
    env.update({k: v for k, v in session.items() if k not in ("HOME", "USER")})
    env["HOME"] = daemon_env.get("HOME", "")
    env["USER"] = daemon_env.get("USER", "")
    return env


def _processes(proc: Path) -> Iterator[tuple[int, list[str]]]:
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        yield int(entry.name), [a.decode(errors="replace") for a in argv if a]


def find_daemon(proc: Path = Path("/proc")) -> int:
    """The ssh daemon's pid: the oldest process whose program is an sshd."""
    pids = sorted(pid for pid, argv in _processes(proc)
                  if argv and os.path.basename(argv[0]) in DAEMON_NAMES)
    if not pids:
        raise NoDaemon("this instance runs no ssh daemon (its desired LRP exposes no port 2222)")
    return pids[0]


def shell_argv(command: str | None) -> list[str]:
    """``bash`` for an interactive session, ``bash -c COMMAND`` for an exec request."""
    return [SHELL, "-c", command] if command is not None else [SHELL]
