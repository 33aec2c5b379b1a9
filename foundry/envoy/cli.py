"""Command line compatible with the Envoy flags the executor passes.

``envoy -c envoy.yaml --service-cluster proxy-cluster --service-node
sidecar~<ip>~<guid>~x --drain-time-s 900 --log-level critical``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import TYPE_CHECKING

from . import lean

if TYPE_CHECKING:
    import argparse

LOG_LEVELS = {
    "trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO,
    "warning": logging.WARNING, "warn": logging.WARNING, "error": logging.ERROR,
    "critical": logging.CRITICAL, "off": logging.CRITICAL + 10,
}


def build_parser() -> argparse.ArgumentParser:
    # argparse is imported here, not at module level, so the running proxy can drop it.
    import argparse  # noqa: PLC0415

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            sys.stderr.write(f"envoy: {message}\nUSAGE: {self.format_usage().split(': ', 1)[-1]}")
            sys.exit(1)

    p = _Parser(prog="envoy", allow_abbrev=False, add_help=True)
    p.add_argument("-c", "--config-path", required=True, help="bootstrap envoy.yaml")
    p.add_argument("--service-cluster", default="")
    p.add_argument("--service-node", default="")
    p.add_argument("--service-zone", default="")
    p.add_argument("--drain-time-s", type=float, default=600.0)
    p.add_argument("--parent-shutdown-time-s", type=float, default=900.0)
    p.add_argument("--drain-strategy", choices=["gradual", "immediate"], default="gradual")
    p.add_argument("-l", "--log-level", choices=sorted(LOG_LEVELS), default="info")
    p.add_argument("--log-path", default="")
    p.add_argument("--mode", choices=["serve", "validate"], default="serve")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--base-id", type=int, default=0)
    p.add_argument("--restart-epoch", type=int, default=0)
    p.add_argument("--disable-hot-restart", action="store_true")
    p.add_argument("--poll-interval-ms", type=int, default=300,
                   help="(cflab) how often replaced config files are looked for where "
                        "inotify cannot tell (with inotify: every 10 s, as a safety net)")
    return p


def set_process_name(name: str = "envoy", argv: list[str] | None = None) -> None:
    """prctl(PR_SET_NAME) so ``ps -e``/``top`` show ``envoy`` (Linux only).

    With setproctitle (Debian's python3-setproctitle, in the stack image) the
    whole command line becomes Envoy's, so ``ps -ef`` in an app container shows
    ``/etc/cf-assets/envoy/envoy -c ...`` as on a Diego cell.
    """
    binary = os.environ.get("CFLAB_ENVOY_BINARY")
    if binary:
        from foundry.proctitle import set_title  # noqa: PLC0415

        set_title(" ".join([binary, *(argv if argv is not None else sys.argv[1:])]))
    # Writing /proc/self/comm is prctl(PR_SET_NAME) without loading ctypes (~1 MB RSS).
    try:
        with open("/proc/self/comm", "wb") as fh:
            fh.write(name.encode()[:15])
        return
    except OSError:
        pass
    try:
        import ctypes  # noqa: PLC0415

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)
    except (OSError, AttributeError):
        pass


def raise_fd_limit() -> None:
    """Each proxied connection needs two descriptors; the default 1024 is too few."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


def _install_uvloop() -> bool:
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


def command_line_options(args: argparse.Namespace) -> dict:
    """`/server_info`'s command_line_options: Envoy's names and value formats."""
    return {
        "base_id": str(args.base_id), "concurrency": args.concurrency,
        "config_path": args.config_path, "log_level": args.log_level, "log_path": args.log_path,
        "service_cluster": args.service_cluster, "service_node": args.service_node,
        "service_zone": args.service_zone, "drain_time": f"{args.drain_time_s:g}s",
        "parent_shutdown_time": f"{args.parent_shutdown_time_s:g}s",
        "mode": args.mode.capitalize(), "disable_hot_restart": args.disable_hot_restart,
        "restart_epoch": args.restart_epoch, "drain_strategy": args.drain_strategy.capitalize(),
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_process_name(argv=argv)
    raise_fd_limit()
    handler: logging.Handler = (logging.FileHandler(args.log_path) if args.log_path
                                else logging.StreamHandler(sys.stderr))
    handler.setFormatter(logging.Formatter(
        "[%(asctime)s.%(msecs)03d][%(process)d][%(levelname)s][%(name)s] %(message)s",
        "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LOG_LEVELS[args.log_level])

    from .model import ConfigError
    from .server import Options, Runtime

    if args.mode == "validate":
        from .config import load_yaml, parse_bootstrap
        from .server import require_sds_files

        try:
            with open(args.config_path, "rb") as fh:
                boot, _ = parse_bootstrap(load_yaml(fh.read()), lambda p: open(p, "rb").read())
            require_sds_files(boot)
        except (ConfigError, OSError) as exc:
            print(f"error initializing configuration '{args.config_path}': {exc}", file=sys.stderr)
            return 1
        print(f"configuration '{args.config_path}' OK")
        return 0
    opts = Options(
        config_path=args.config_path, service_cluster=args.service_cluster,
        service_node=args.service_node, drain_time_s=args.drain_time_s,
        poll_interval=args.poll_interval_ms / 1000.0,
        argv=command_line_options(args),
        lean=lean.enabled(),
    )
    uv = _install_uvloop()
    logging.getLogger("envoy.main").info("starting (uvloop=%s)", uv)

    async def _run() -> int:
        return await Runtime(opts).run()

    try:
        return asyncio.run(_run())
    except (ConfigError, OSError) as exc:
        print(f"error initializing configuration '{args.config_path}': {exc}", file=sys.stderr)
        return 1
