import io
import json
import tarfile

import pytest

from foundry.cli import cf, cf_format
from foundry.cli.cf_client import CFConfig, HTTPResult, config_path, error_message


@pytest.fixture(autouse=True)
def cf_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CF_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    code = cf.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_parser_push_flags():
    a = cf.build_parser().parse_args(["push", "app", "-p", "dir", "-i", "3", "-c", "cmd",
                                      "--no-route", "--hostname", "h", "--no-start"])
    assert (a.name, a.path, a.instances, a.command, a.no_route, a.hostname, a.no_start) == (
        "app", "dir", 3, "cmd", True, "h", True)
    a = cf.build_parser().parse_args(["map-route", "app", "apps.internal", "--hostname", "x",
                                      "--path", "/p"])
    assert (a.domain, a.hostname, a.path) == ("apps.internal", "x", "/p")
    a = cf.build_parser().parse_args(["ssh", "app", "-i", "2", "-c", "ls"])
    assert (a.app_instance_index, a.command) == (2, "ls")


def test_usage_error_exits_1():
    code, _, err = run("scale")
    assert code == 1 and err.startswith("FAILED\nIncorrect Usage")
    code, _, err = run("scale", "app", "-i", "many")
    assert code == 1 and "Incorrect Usage" in err


def test_no_api_set():
    code, _, err = run("apps")
    assert code == 1 and "No API endpoint set" in err


def test_not_logged_in(cf_home):
    CFConfig(api="https://127.0.0.1:1").save()
    code, _, err = run("apps")
    assert code == 1 and "Not logged in" in err


def test_unreachable_api(cf_home):
    CFConfig(api="https://127.0.0.1:1", access_token="bearer x").save()
    code, _, err = run("apps")
    assert code == 1 and "FAILED" in err and "Request error" in err


def test_scale_below_zero_fails_before_any_request(cf_home):
    CFConfig(api="https://127.0.0.1:1", access_token="bearer x").save()
    code, _, err = run("scale", "app", "-i", "-2")
    assert code == 1 and "zero or more" in err


def test_push_missing_folder_fails_before_any_request(cf_home, tmp_path):
    CFConfig(api="https://127.0.0.1:1").save()
    code, _, err = run("push", "app", "-p", str(tmp_path / "nope"))
    assert code == 1 and "does not exist" in err


def test_config_roundtrip(cf_home):
    assert config_path() == cf_home / ".cf" / "config.json"
    CFConfig(api="https://x", ca_cert="PEM", org="o", space="s", access_token="bearer t",
             refresh_token="r").save()
    raw = json.loads(config_path().read_text())
    assert (raw["Target"], raw["AccessToken"], raw["RefreshToken"]) == ("https://x", "bearer t",
                                                                        "r")
    assert raw["OrganizationFields"]["Name"] == "o" and raw["SpaceFields"]["Name"] == "s"
    assert raw["UAAOAuthClient"] == "cf" and raw["CFLabCACert"] == "PEM"
    assert config_path().stat().st_mode & 0o777 == 0o600
    loaded = CFConfig.load()
    assert (loaded.space, loaded.access_token, loaded.ca_cert) == ("s", "bearer t", "PEM")


def test_expiring_token_is_refreshed_before_the_request(cf_home, monkeypatch):
    import base64
    import time

    def jwt(exp):
        body = base64.urlsafe_b64encode(json.dumps({"exp": exp, "user_name": "admin"}).encode())
        return f"bearer h.{body.decode().rstrip('=')}.s"

    CFConfig(api="https://x", uaa_endpoint="https://uaa", access_token=jwt(time.time() + 10),
             refresh_token="r1").save()
    grants = []

    def grant(uaa, ctx, client, secret, form):
        grants.append((uaa, client, secret, form))
        return {"access_token": jwt(time.time() + 7200).split()[1], "refresh_token": "r2"}

    monkeypatch.setattr(cf.uaa_client, "token_grant", grant)
    ctx = cf.Context(io.StringIO(), io.StringIO())
    header = ctx.authorization()
    assert grants == [("https://uaa", "cf", "", {"grant_type": "refresh_token",
                                                  "refresh_token": "r1"})]
    assert header.startswith("bearer h.") and ctx.user == "admin"
    assert CFConfig.load().refresh_token == "r2"
    assert ctx.authorization() == header and len(grants) == 1  # fresh now: no second grant


def test_package_folder(tmp_path):
    (tmp_path / "app.py").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "f").write_text("y")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("z")
    names = tarfile.open(fileobj=io.BytesIO(cf.package_folder(tmp_path)), mode="r:gz").getnames()
    assert sorted(names) == ["app.py", "sub", "sub/f"]


def test_error_message_shapes():
    assert error_message(HTTPResult(404, b'{"description": "gone", "code": 1}')) == "gone"
    assert error_message(HTTPResult(404, b'{"errors": [{"detail": "v3 gone"}]}')) == "v3 gone"
    assert error_message(HTTPResult(502, b"<html>")) == "Server error, status code: 502"


def test_table_and_megabytes():
    assert cf_format.table(["name", "state"], [["a", "started"], ["long-name", "stopped"]]) == (
        "name        state\na           started\nlong-name   stopped")
    assert cf_format.megabytes(1024) == "1G" and cf_format.megabytes(256) == "256M"


def test_app_summary_instances_table():
    summary = {"name": "web", "state": "STARTED", "instances": 2, "memory": 256,
               "disk_quota": 1024, "routes": [{"host": "web", "path": "",
                                               "domain": {"name": "apps.internal"}}],
               "command": None, "detected_start_command": "", "package_updated_at": "t"}
    stats = [{"index": 0, "state": "RUNNING", "since": "2026-11-28T18:00:00Z", "host": "10.0.0.5",
              "cell_id": "cell-1", "instance_ports": [{"internal": 8080, "external": 0,
                                                       "external_tls_proxy_port": 61001}]},
             {"index": 1, "state": "DOWN", "host": "", "cell_id": "", "instance_ports": []}]
    text = cf_format.app_summary(summary, stats)
    assert "routes:            web.apps.internal" in text
    assert "instances:      1/2" in text
    assert "start command:  python3 app.py" in text
    lines = text.splitlines()
    row0 = next(line for line in lines if line.startswith("#0"))
    assert row0.split()[:3] == ["#0", "running", "2026-11-28T18:00:00Z"]
    assert row0.split()[3:] == ["0.0%", "0", "of", "256M", "0", "of", "1G"]  # the Go CLI's
    assert next(line for line in lines if line.startswith("#1")).split()[1] == "down"


def test_instance_details_show_the_crash_reason_and_count():
    assert cf_format.instance_details({"details": None, "crash_count": 0}) == ""
    assert cf_format.instance_details({"crash_count": 1}) == "crashed 1 time"
    reason = "APP/PROC/WEB: Exited with status 137 (out of memory)"
    assert cf_format.instance_details({"details": reason, "crash_count": 3}) == (
        reason + "; crashed 3 times")
    summary = {"name": "hog", "state": "STARTED", "instances": 1, "memory": 64,
               "disk_quota": 512, "routes": [], "command": "python3 app.py"}
    text = cf_format.app_summary(summary, [{"index": 0, "state": "CRASHED", "details": reason,
                                            "crash_count": 2}])
    row = next(line for line in text.splitlines() if line.startswith("#0"))
    assert row.split()[1] == "crashed" and row.endswith("(out of memory); crashed 2 times")


def test_apps_and_routes_tables():
    assert cf_format.apps_table([]) == "No apps found"
    text = cf_format.apps_table([{"name": "a", "state": "STARTED", "running_instances": 1,
                                  "instances": 1, "memory": 256, "disk_quota": 1024,
                                  "urls": ["a.apps.internal"]}])
    assert text.splitlines()[1].split() == ["a", "started", "1/1", "256M", "1G", "a.apps.internal"]
    text = cf_format.routes_table("dev", [{"host": "a", "domain": "apps.internal", "path": "/p",
                                           "apps": ["x", "y"]}])
    assert "x, y" in text and text.startswith("space")


def test_ssh_argv_is_openssh_to_the_ssh_proxy():
    argv = cf.ssh_argv("127.0.0.1:2222", "app-guid", 1, "ps -ef", tty=False)
    assert argv[:3] == ["ssh", "-p", "2222"]
    assert argv[-3:] == ["-T", "cf:app-guid/1@127.0.0.1", "ps -ef"]
    assert "PreferredAuthentications=password" in argv
    assert cf.ssh_argv("h:2022", "g", 0, None, tty=True)[-2:] == ["-tt", "cf:g/0@h"]


def test_ssh_docker_exec_is_a_debugging_aid(monkeypatch, cf_home):
    calls = []
    monkeypatch.setattr(cf.subprocess, "call", lambda argv: calls.append(argv) or 0)

    class Ctx:
        def app(self, name):
            return {"entity": {"state": "STARTED"}, "metadata": {"guid": "g"}}

        def stats(self, guid):
            return [{"index": 0, "state": "RUNNING", "instance_guid": "abcd-ef"}]

    args = cf.build_parser().parse_args(["ssh", "web", "-c", "ps -ef", "--docker-exec"])
    assert cf.cmd_ssh(Ctx(), args) == 0
    assert calls == [["docker", "exec", "-i", "-u", "root", "abcd-ef", "python3", "-m",
                      "foundry.diego_ssh", "-c", "ps -ef"]]
    args = cf.build_parser().parse_args(["ssh", "web", "-i", "3"])
    with pytest.raises(cf.CFError, match="Instance 3 of app 'web' is not running"):
        cf.cmd_ssh(Ctx(), args)


def test_app_guid_prints_only_the_guid(cf_home):
    out = io.StringIO()

    class Ctx:
        def say(self, text=""):
            out.write(text + "\n")

        def app(self, name):
            return {"metadata": {"guid": "9f8e7d6c-5b4a"}, "entity": {"name": name}}
    args = cf.build_parser().parse_args(["app", "hello", "--guid"])
    assert cf.cmd_app(Ctx(), args) == 0
    assert out.getvalue() == "9f8e7d6c-5b4a\n"
