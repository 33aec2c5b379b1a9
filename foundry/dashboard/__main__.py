"""`python3 -m foundry.dashboard -c /var/vcap/jobs/dashboard/config/dashboard.json`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from foundry.dashboard.collectors import Collectors
from foundry.dashboard.config import ConfigError, load
from foundry.dashboard.hub import Hub
from foundry.dashboard.server import DashboardServer
from foundry.jobconfig import start_job

DEFAULT_CONFIG = "/var/vcap/jobs/dashboard/config/dashboard.json"


async def run(cfg) -> None:
    hub = Hub()
    server = DashboardServer(hub)
    await server.start(*cfg.host_port)
    tasks = Collectors(cfg, hub).start()
    logging.getLogger("dashboard").info("dashboard.started port=%d", server.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for t in tasks:
        t.cancel()
    with contextlib.suppress(Exception):
        await asyncio.gather(*tasks, return_exceptions=True)
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    cfg = start_job("dashboard", __doc__, DEFAULT_CONFIG, load, ConfigError, argv)
    # nats-py loads aiohttp, when it is installed, for a websocket transport the dashboard
    # never uses: 10 MB of RSS. The platform image has no aiohttp; the dev venv has it
    # (cloudfoundry_client needs it), where bench_dashboard's idle RSS was 41.9 MB against
    # its 40 MB target, and 32.7 MB without it. Only this job's process is told so.
    sys.modules.setdefault("aiohttp", None)  # type: ignore[arg-type]
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
