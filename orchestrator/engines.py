"""One `docker` command over several engines: the nodes of a swarm (sans-IO).

On a swarm the manager's engine sees only its own containers: a cell on a worker, its
app containers and a scenario's `docker exec` into them live on the worker's engine,
which `docker` has no way to reach through the manager. When `CFLAB_DOCKER_NODES` lists
every node's engine (`DOCKER_HOST` values, the manager first; `cflab swarm-lab` sets
it), docker_cli.run sends each command where its containers are:

- `ps`: every engine, the lines joined;
- `inspect`/`container inspect`, `rm`: every engine, the results joined;
- verbs on one container (`exec`, `kill`, `logs`, `cp`, `run --network container:X`,
  ...): the manager first, then each next engine while the answer is "No such
  container";
- everything else (`service`, `stack`, `node`, `network`, `volume`, images): the
  manager, as without the variable.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping, Sequence

NODES_ENV = "CFLAB_DOCKER_NODES"
EVERY = "every"
FIND = "find"
MANAGER = "manager"
_ONE_CONTAINER = {"exec", "kill", "stop", "start", "restart", "pause", "unpause", "logs",
                  "cp", "top", "port", "wait", "stats"}
NOT_HERE = ("No such container", "No such object")


CELL_SOCKET_ENV = "CFLAB_CELL_DOCKER_SOCKET"   # the socket path cells mount (docker_cli)
LAB_ENV = ("DOCKER_HOST", NODES_ENV, CELL_SOCKET_ENV)


def one_engine_env(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without what aims docker at several engines (or at the lab's): a command
    run with it reaches the one engine it names itself (DOCKER_HOST added by the caller)
    or this machine's."""
    return {k: v for k, v in environ.items() if k not in LAB_ENV}


def hosts(value: str | None) -> list[str]:
    """The engines `CFLAB_DOCKER_NODES` names (comma-separated), manager first."""
    return [h.strip() for h in (value or "").split(",") if h.strip()]


def plan(args: Sequence[str]) -> str:
    """Where a `docker ...` command goes: EVERY engine, FIND the one with its container,
    or the MANAGER."""
    if len(args) < 2 or args[0] != "docker":
        return MANAGER
    verb = args[1]
    if verb in ("ps", "inspect", "rm") or (verb == "container" and args[2:3] == ["inspect"]):
        return EVERY
    if verb in _ONE_CONTAINER:
        return FIND
    if verb == "run" and any(a.startswith(("container:", "--network=container:"))
                             for a in args[2:]):
        return FIND
    return MANAGER


def not_here(proc: subprocess.CompletedProcess) -> bool:
    """The engine does not have the container the command names."""
    err = (proc.stderr or b"").decode(errors="replace")
    return proc.returncode != 0 and any(marker in err for marker in NOT_HERE)


def merge(args: Sequence[str], results: list[subprocess.CompletedProcess]
          ) -> subprocess.CompletedProcess:
    """The answers of every engine as one: `inspect`'s JSON arrays joined (its formatted
    output, `ps` and `rm` lines joined); success when any engine succeeded or answered."""
    outs = [r.stdout or b"" for r in results]
    formatted = any(a in ("-f", "--format") or a.startswith("--format=") for a in args)
    if plan(args) == EVERY and args[1] != "ps" and args[1] != "rm" and not formatted:
        items = [item for out in outs if out.strip().startswith(b"[")
                 for item in json.loads(out)]
        stdout = json.dumps(items).encode() if items or any(outs) else b""
    else:
        stdout = b"".join(o if not o or o.endswith(b"\n") else o + b"\n" for o in outs)
    ok = [r for r in results if r.returncode == 0]
    if args[1] == "ps":
        code = max((r.returncode for r in results), default=0)
    else:
        code = 0 if ok or stdout.strip() not in (b"", b"[]") else results[0].returncode
    stderr = b"" if code == 0 else b"".join(r.stderr or b"" for r in results)
    return subprocess.CompletedProcess(list(args), code, stdout, stderr)


def dispatch(args: Sequence[str], engines: list[str],
             call: Callable[[str], subprocess.CompletedProcess]) -> subprocess.CompletedProcess:
    """Run `args` on the engines `plan` picks; `call(host)` runs it on one engine."""
    where = plan(args)
    if where == MANAGER or len(engines) < 2:
        return call(engines[0])
    if where == EVERY:
        return merge(args, [call(h) for h in engines])
    proc = call(engines[0])
    for host in engines[1:]:
        if not not_here(proc):
            break
        proc = call(host)
    return proc
