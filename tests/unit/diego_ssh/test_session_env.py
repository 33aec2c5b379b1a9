"""A `cf ssh` session's environment, as diego-ssh's session_channel_handler builds it."""

from __future__ import annotations

from foundry.diego_ssh.session import daemon_environment, session_environment, shell_argv

DAEMON = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root", "PORT": "8080",
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
    env = session_environment(DAEMON, term="xterm", requested={"HOME": "/x", "FOO": "1"})
    assert (env["HOME"], env["USER"], env["TERM"], env["FOO"]) == (
        "/home/vcap", "vcap", "xterm", "1")


def test_daemon_lang_wins_over_the_fixed_one():
    assert session_environment({"LANG": "en_US.UTF-8"})["LANG"] == "en_US.UTF-8"


def test_inherit_daemon_env_drops_only_path():
    assert daemon_environment(DAEMON) == {k: v for k, v in DAEMON.items() if k != "PATH"}


def test_shell_argv():
    assert shell_argv(None) == ["/bin/bash"]
    assert shell_argv("env") == ["/bin/bash", "-c", "env"]
