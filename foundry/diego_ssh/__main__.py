"""``python3 -m foundry.diego_ssh [-c COMMAND]``: start a session as Diego's sshd would.

Run as root in the app container (what `cf ssh` does through ``docker exec``).
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys
from pathlib import Path

from foundry.diego_ssh.session import (
    NoDaemon,
    find_daemon,
    parse_environ,
    session_environment,
    shell_argv,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="diego-ssh-session")
    p.add_argument("-c", dest="command", default=None)
    args = p.parse_args(argv)
    try:
        pid = find_daemon()
        daemon_env = parse_environ(Path(f"/proc/{pid}/environ").read_bytes())
    except (NoDaemon, OSError) as e:
        print(f"cf ssh: {e}", file=sys.stderr)
        return 1
    term = os.environ.get("TERM") if os.isatty(0) else None
    env = session_environment(daemon_env, term=term)
    user = pwd.getpwnam(env["USER"] or "vcap")
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    try:
        os.chdir(env["HOME"] or user.pw_dir)
    except OSError:
        os.chdir("/")
    cmd = shell_argv(args.command)
    os.execve(cmd[0], cmd, env)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
