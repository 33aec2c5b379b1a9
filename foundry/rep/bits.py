"""App bits as tar members placed under the download target, owned by vcap.

Diego's download step extracts the droplet into the container before the run
action. Here the cell re-roots the archive (the Cloud Controller's tar.gz, or a
folder the stack image already holds, read with `get_archive` from the created
container) so it joins the one tar copied in before the container starts: no
`mkdir`, `cp` or `chown` inside the container. Sans-IO: bytes in, members out.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import time

Member = tuple[tarfile.TarInfo, bytes | None]


class BitsError(ValueError):
    pass


def _safe(name: str) -> str:
    norm = posixpath.normpath(name)
    if name.startswith("/") or norm == ".." or norm.startswith("../"):
        raise BitsError(f"app bits: unsafe path {name!r} in the archive")
    return "" if norm == "." else norm


def retarget(archive: bytes, target: str, uid: int, strip_top: bool = False) -> list[Member]:
    """Members of `archive` (tar, optionally gzipped) under `target`, owned by `uid`.

    `strip_top` drops the first path component (Docker's `get_archive` of a folder
    names every member `<folder>/...`). Only files, folders and symlinks are kept.
    """
    root = target.strip("/")
    out: list[Member] = [(_dir(root, uid), None)]
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            for m in tar:
                rel = _safe(m.name)
                if strip_top:
                    rel = rel.partition("/")[2]
                if not rel or not (m.isfile() or m.isdir() or m.issym()):
                    continue
                info = tarfile.TarInfo(f"{root}/{rel}")
                info.type, info.mode, info.mtime = m.type, m.mode, m.mtime
                info.uid = info.gid = uid
                info.uname = info.gname = ""
                data = None
                if m.issym():
                    info.linkname = m.linkname
                elif m.isfile():
                    f = tar.extractfile(m)
                    data = f.read() if f else b""
                    info.size = len(data)
                out.append((info, data))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BitsError(f"app bits: not a tar archive ({exc})") from None
    return out


def _dir(name: str, uid: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
    info.uid = info.gid = uid
    return info
