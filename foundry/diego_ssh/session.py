"""The environment of a `cf ssh` session, as Diego's sshd builds it.

Diego's ssh daemon runs in the app container as vcap with the container's environment
(the desired LRP's env, ``CF_INSTANCE_*``...) and ``-inheritDaemonEnv``. Each session
gets (diego-ssh ``handlers/session_channel_handler.go`` ``environment()``):
``PATH=/bin:/usr/bin``, ``LANG=en_US.UTF8``, the daemon's environment without
``PATH``, ``TERM`` when a terminal was asked for, then the daemon's ``HOME`` and
``USER``.

cflab's cell gives the instance's environment to the Docker container itself (what
Garden's container spec env and the run step's env are on a cell), so any process the
container starts has it. `cf ssh` reaches the container with ``docker exec`` (no
ssh-proxy yet) and runs ``python3 -m foundry.diego_ssh [-c COMMAND]`` there, which
builds the session's environment with :func:`session_environment` and starts bash as
vcap. A real ssh path can build its sessions with the same function.
"""

from __future__ import annotations

from collections.abc import Mapping

SHELL = "/bin/bash"
SSH_USER, SSH_HOME = "vcap", "/home/vcap"  # the daemon's user: Diego runs it as vcap


def daemon_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """What ``-inheritDaemonEnv`` keeps of the daemon's environment: all but PATH."""
    return {k: v for k, v in environ.items() if k != "PATH"}


def session_environment(daemon_env: Mapping[str, str], term: str | None = None,
                        requested: Mapping[str, str] | None = None,
                        home: str = SSH_HOME, user: str = SSH_USER) -> dict[str, str]:
    """A session's environment: fixed PATH and LANG, the daemon's variables (and any the
    client sent), TERM with a terminal, then the daemon user's HOME and USER."""
    env = {"PATH": "/bin:/usr/bin", "LANG": "en_US.UTF8"}
    session = daemon_environment(daemon_env)
    session.update(requested or {})
    if term:
        session["TERM"] = term
    env.update({k: v for k, v in session.items() if k not in ("HOME", "USER")})
    env["HOME"] = home
    env["USER"] = user
    return env


def shell_argv(command: str | None) -> list[str]:
    """``bash`` for an interactive session, ``bash -c COMMAND`` for an exec request."""
    return [SHELL, "-c", command] if command is not None else [SHELL]
