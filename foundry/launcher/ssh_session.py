"""`/tmp/lifecycle/ssh-session [-c COMMAND]`: what an ssh session runs in an instance.

OpenSSH's sshd starts a session with a clean environment; Diego's sshd gives it the
instance's (CF_INSTANCE_*, VCAP_APPLICATION, VCAP_SERVICES, PORT, ...). The ssh-proxy
therefore runs every session through this: it reads the environment the cell wrote
for the instance (`/etc/cf-assets/ssh/instance.env`, JSON, readable by vcap only) and
starts bash with it in /home/vcap, as diego-ssh's session handler does
(`foundry.diego_ssh.session`, which `cf ssh --docker-exec` uses too).
"""

from __future__ import annotations

import json
import os
import sys

from foundry.diego_ssh.session import session_environment, shell_argv

ENV_FILE = "/etc/cf-assets/ssh/instance.env"
HOME = "/home/vcap"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        with open(ENV_FILE, encoding="utf-8") as f:
            instance = json.load(f)
    except (OSError, ValueError) as e:
        print(f"ssh-session: no instance environment ({e}); continuing without",
              file=sys.stderr)
        instance = {}
    env = session_environment({str(k): str(v) for k, v in instance.items()},
                              term=os.environ.get("TERM"))
    try:
        os.chdir(HOME)
    except OSError:
        pass
    cmd = shell_argv(args[1] if len(args) >= 2 and args[0] == "-c" else None)
    os.execve(cmd[0], cmd, env)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
