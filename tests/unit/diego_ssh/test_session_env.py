"""A `cf ssh` session's environment, as diego-ssh's session_channel_handler builds it."""

from __future__ import annotations

from foundry.diego_ssh.session import (
    NoDaemon,
    daemon_environment,
    find_daemon,
    parse_environ,
    session_environment,
    shell_argv,
)

DAEMON = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/home/vcap", "USER": "vcap", "PORT": "8080",
    "CF_INSTANCE_GUID": "6f042458-693c-456a-6fa6-ed96",
    "CF_INSTANCE_PORTS": '[{"internal":8080,"external_tls_proxy":61002,"internal_tls_proxy":61001}]',
    "CF_INSTANCE_CERT": "/etc/cf-instance-credentials/instance.crt",
    "CF_INSTANCE_KEY": "/etc/cf-instance-credentials/instance.key",
    "VCAP_APPLICATION": '{"name":"hello"}', "VCAP_SERVICES": "{}",
}


def test_session_gets_fixed_path_and_the_daemons_instance_environment():
    env = session_environment(DAEMON)
    assert env["PATH"] == "/bin:/usr/bin"
    assert env["LANG"] == "en_US.UTF8"
    for name in ("CF_INSTANCE_GUID", "CF_INSTANCE_PORTS", "CF_INSTANCE_CERT", "CF_INSTANCE_KEY",
                 "VCAP_APPLICATION", "VCAP_SERVICES", "PORT"):
        assert env[name] == DAEMON[name]
    assert (env["HOME"], env["USER"]) == ("/home/vcap", "vcap")
    assert list(env)[-2:] == ["HOME", "USER"]
    assert "TERM" not in env


def test_client_cannot_override_home_or_user_but_gets_term():
    env = session_environment(DAEMON, term="xterm", requested={"HOME": "/root", "FOO": "1"})
    assert (env["HOME"], env["USER"], env["TERM"], env["FOO"]) == (
        "/home/vcap", "vcap", "xterm", "1")


def test_inherit_daemon_env_drops_only_path():
    assert daemon_environment(DAEMON) == {k: v for k, v in DAEMON.items() if k != "PATH"}


def test_parse_proc_environ():
    raw = b"A=1\0B=x=y\0\0EMPTY=\0junk\0"
    assert parse_environ(raw) == {"A": "1", "B": "x=y", "EMPTY": ""}


def test_find_daemon_is_the_oldest_sshd(tmp_path):
    for pid, argv in ((1, b"/etc/cf-assets/garden-init\0"), (40, b"/usr/sbin/sshd\0-D\0-p\x002222\0"),
                      (12, b"python3\0app.py\0"), (77, b"sshd: vcap [priv]\0"),
                      (55, b"/tmp/lifecycle/diego-sshd\0--address=0.0.0.0:2222\0")):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(argv)
    (tmp_path / "self").mkdir()
    assert find_daemon(tmp_path) == 40


def test_no_daemon_is_a_clear_error(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "cmdline").write_bytes(b"init\0")
    try:
        find_daemon(tmp_path)
    except NoDaemon as e:
        assert "no ssh daemon" in str(e)
    else:
        raise AssertionError("expected NoDaemon")


def test_shell_argv():
    assert shell_argv(None) == ["/bin/bash"]
    assert shell_argv("env") == ["/bin/bash", "-c", "env"]
