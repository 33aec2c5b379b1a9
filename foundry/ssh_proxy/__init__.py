"""Diego's ssh-proxy: `cf:<app guid>/<index>` plus a one-time code → the instance's sshd."""
