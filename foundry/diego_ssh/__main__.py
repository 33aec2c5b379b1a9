"""``python3 -m foundry.diego_ssh [-c COMMAND]``: a session as Diego's sshd starts one.

Run by `cf ssh` through ``docker exec`` in the app container: the container's
environment is the daemon's; the session runs as the daemon's user (vcap).
"""

from __future__ import annotations

import argparse
import os
import pwd
import sys

from foundry.diego_ssh.session import SSH_USER, session_environment, shell_argv


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="diego-ssh-session")
    p.add_argument("-c", dest="command", default=None)
    args = p.parse_args(argv)
    try:
        user = pwd.getpwnam(SSH_USER)
    except KeyError:
        print(f"cf ssh: the container has no user {SSH_USER}", file=sys.stderr)
        return 1
    # docker exec's own TERM stands for the client's pty request
    term = os.environ.get("TERM") if os.isatty(0) else None
    env = session_environment(os.environ, term=term, home=user.pw_dir, user=user.pw_name)
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    try:
        os.chdir(env["HOME"])
    except OSError:
        os.chdir("/")
    cmd = shell_argv(args.command)
    os.execve(cmd[0], cmd, env)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
