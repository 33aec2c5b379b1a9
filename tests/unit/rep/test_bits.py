"""App bits re-rooted under the download target, owned by vcap, unsafe paths refused."""

from __future__ import annotations

import io
import tarfile

import pytest

from foundry.rep.bits import BitsError, retarget
from foundry.rep.garden import _tar


def archive(entries: dict[str, bytes | None], gz: bool = False, links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o700
                tar.addfile(info)
            else:
                info.size, info.mode, info.uid = len(data), 0o640, 0
                tar.addfile(info, io.BytesIO(data))
        for name, to in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, to
            tar.addfile(info)
    return buf.getvalue()


def test_cloud_controller_tgz_lands_under_the_target_owned_by_vcap():
    members = retarget(archive({"./app.py": b"print(1)", "./lib": None, "lib/x.py": b"x"}, gz=True),
                       "/home/vcap/app", 2000)
    got = {m.name: (m.uid, m.gid, m.mode, m.type, data) for m, data in members}
    assert got["home/vcap/app"][:2] == (2000, 2000) and got["home/vcap/app"][3] == tarfile.DIRTYPE
    assert got["home/vcap/app/app.py"] == (2000, 2000, 0o640, tarfile.REGTYPE, b"print(1)")
    assert got["home/vcap/app/lib"][2:4] == (0o700, tarfile.DIRTYPE)
    assert got["home/vcap/app/lib/x.py"][4] == b"x"
    assert all(m.size == len(d) for m, d in members if d is not None)


def test_hidden_files_keep_their_names():
    members = retarget(archive({".profile": b"export A=1"}), "/home/vcap/app", 2000)
    assert "home/vcap/app/.profile" in {m.name for m, _ in members}


def test_get_archive_folders_lose_their_top_component():
    members = retarget(archive({"identity": None, "identity/app.py": b"a"}), "/home/vcap/app",
                       2000, strip_top=True)
    assert [m.name for m, _ in members] == ["home/vcap/app", "home/vcap/app/app.py"]


def test_symlinks_are_kept_and_devices_dropped():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dev = tarfile.TarInfo("null")
        dev.type = tarfile.CHRTYPE
        tar.addfile(dev)
    assert [m.name for m, _ in retarget(buf.getvalue(), "/app", 2000)] == ["app"]
    members = retarget(archive({}, links={"current": "lib/x.py"}), "/app", 2000)
    assert members[1][0].issym() and members[1][0].linkname == "lib/x.py"


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape", "a/../../escape"])
def test_paths_leaving_the_target_are_refused(name):
    with pytest.raises(BitsError, match="unsafe path"):
        retarget(archive({name: b"x"}), "/home/vcap/app", 2000)


def test_not_a_tar_is_a_clear_error():
    with pytest.raises(BitsError, match="not a tar archive"):
        retarget(b"this is not a tar", "/home/vcap/app", 2000)


def test_bits_join_the_credentials_in_one_tar():
    members = retarget(archive({"app.py": b"a"}), "/home/vcap/app", 2000)
    data = _tar({"/etc/cf-instance-credentials": {"instance.key": (b"k", 0o600, 2000)}}, members)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        assert tar.extractfile("home/vcap/app/app.py").read() == b"a"
    assert "etc/cf-instance-credentials/instance.key" in names
    assert "home" not in names and "home/vcap" not in names  # vcap's home keeps its owner
