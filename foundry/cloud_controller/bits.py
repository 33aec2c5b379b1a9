"""App bits: validate an uploaded tar.gz and keep it content-addressed on disk.

Validation happens before anything is recorded, so a bad upload leaves no trace.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from foundry.cloud_controller.errors import CCError
from foundry.cloud_controller.recipe import procfile_web_command


@dataclass(frozen=True)
class Package:
    sha256: str
    data: bytes
    detected_start_command: str


def inspect(data: bytes, max_bytes: int) -> Package:
    """Check size and archive sanity; find a Procfile's ``web:`` command."""
    if len(data) > max_bytes:
        raise CCError("AppBitsTooLarge", f"Package may not be larger than {max_bytes} bytes")
    if not data:
        raise CCError("AppBitsUploadInvalid", "the upload is empty")
    command = ""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                name = member.name.lstrip("./") if member.name not in (".", "./") else ""
                if member.name.startswith("/") or ".." in Path(member.name).parts:
                    raise CCError("AppBitsUploadInvalid", f"unsafe path {member.name!r}")
                if not (member.isfile() or member.isdir() or member.issym()):
                    raise CCError("AppBitsUploadInvalid", f"unsupported entry {member.name!r}")
                if name == "Procfile" and member.isfile():
                    f = tar.extractfile(member)
                    if f is not None:
                        command = procfile_web_command(f.read(65536).decode("utf-8", "replace"))
    except (tarfile.TarError, OSError, EOFError) as e:
        raise CCError("AppBitsUploadInvalid", f"not a gzipped tar archive ({e})") from e
    return Package(hashlib.sha256(data).hexdigest(), data, command)


class BitsStore:
    def __init__(self, root: str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, app_guid: str, sha256: str) -> Path:
        if "/" in app_guid or "/" in sha256 or app_guid.startswith("."):
            raise ValueError("bad bits key")
        return self.root / app_guid / f"{sha256}.tgz"

    def save(self, app_guid: str, pkg: Package) -> None:
        """Written to a temp name and renamed: a cell never downloads half a package."""
        path = self.path(app_guid, pkg.sha256)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pkg.data)
        os.replace(tmp, path)
        for old in path.parent.glob("*.tgz"):
            if old != path:
                old.unlink(missing_ok=True)

    def read(self, app_guid: str, sha256: str) -> bytes | None:
        try:
            return self.path(app_guid, sha256).read_bytes()
        except (OSError, ValueError):
            return None

    def delete(self, app_guid: str) -> None:
        shutil.rmtree(self.root / app_guid, ignore_errors=True)
