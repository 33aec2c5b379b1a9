"""The `cflab` command: start, stop and look at a foundation."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from orchestrator import config, images
from orchestrator.docker_cli import require_engine
from orchestrator.foundation import Foundation, saved_config_path
from orchestrator.progress import PhaseError
from orchestrator.scenario import cli as scenario_cli


def _config(args: argparse.Namespace, overrides: dict | None = None) -> config.FoundationConfig:
    """The config a command acts on: --config, else the one `up` saved, else defaults."""
    overrides = dict(overrides or {})
    if getattr(args, "project", None):
        overrides["project"] = args.project
    path = args.config
    if path is None:
        saved = saved_config_path(overrides.get("project", config.defaults()["project"]))
        path = saved
    return config.load(path, overrides)


def mode_note(mode: str, flag: bool, saved: bool, config_file: bool) -> str:
    """Where `up`'s mode comes from. A mode set with `cflab mode` lives in the running
    foundation's saved config: kept by an `up` over it, gone with `make down`."""
    if flag:
        source = "from --mode"
    elif saved:
        source = "kept from this foundation's saved config (set by its last `up` or" \
                 " `cflab mode`; `make down` resets it)"
    elif config_file:
        source = "from --config"
    else:
        source = "the default: a fresh foundation (a mode set with `cflab mode` ended with" \
                 " `make down`)"
    return f" • mode {mode}: {source}"


def cmd_up(args: argparse.Namespace) -> int:
    overrides: dict = {}
    if args.mode:
        overrides["mode"] = args.mode
    if args.cells is not None:
        overrides["cells"] = args.cells
    if args.proxy:
        overrides["proxy"] = args.proxy
    if args.engine:
        overrides["engine"] = args.engine
    cfg = _config(args, overrides)
    require_engine()
    print(mode_note(cfg.mode, bool(args.mode), args.config is None
                    and saved_config_path(cfg.project) is not None, args.config is not None),
          flush=True)
    Foundation(cfg).up(wait=args.wait)
    http, domain = cfg.ports["http"], cfg.apps_domain
    foundation = Foundation(cfg)
    cf_home = foundation.cf_home
    cell = foundation.job_states().get("cell-1", {}).get("container", "CELL")
    print(f"""
  Reach the apps through the router:
    curl -s -H 'Host: hello.{domain}' http://127.0.0.1:{http}/ | jq .
    curl -s -H 'Host: other.{domain}' http://127.0.0.1:{http}/ | jq .

  Watch it live: http://127.0.0.1:{cfg.ports['dashboard']}/

  Log in (source the venv or prefix .venv/bin/); `cflab up` already logged CF_HOME in:
    export CF_HOME={cf_home}
    cf login -a https://127.0.0.1:{cfg.ports['cloud_controller']} -u {foundation.admin[0]} -p {foundation.admin[1]} --skip-ssl-validation
    cf apps; cf app hello; cf routes; cf oauth-token
    cf ssh hello -c 'echo $CF_INSTANCE_GUID'   # OpenSSH through the ssh-proxy on 127.0.0.1:{cfg.ports['ssh_proxy']}
    ssh -p {cfg.ports['ssh_proxy']} cf:$(cf curl '/v2/apps?q=name:hello' | jq -r '.resources[0].metadata.guid')/0@127.0.0.1   # password: cf ssh-code
    source {foundation.cfdot_setup_shown}   # cfdot's BBS_URL and client certificate: the BBS is mutual TLS only
    cfdot actual-lrps | jq -c '{{process_guid,index,state,address,ports}}'
    cflab status; cflab logs router; cflab mode strict
    docker exec {cell} iptables -t nat -nL CFLAB-DNAT
    curl -s http://127.0.0.1:{cfg.ports['nats_monitor']}/varz | jq .connections

  Stop: make down""")
    return 0


def cmd_mode(args: argparse.Namespace) -> int:
    cfg = _config(args, {"mode": args.mode})
    require_engine()
    foundation = Foundation(cfg)
    if not foundation.running_containers():
        print(f"cflab mode: foundation {cfg.project!r} is not running (start it with"
              f" `cflab up --mode {args.mode}`)", file=sys.stderr)
        return 3
    foundation.switch_mode(wait=args.wait)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    cfg = _config(args)
    require_engine()
    removed = Foundation(cfg).down()
    print(f"removed foundation {cfg.project!r}: {removed['containers']} containers,"
          f" {removed['networks']} networks, {removed['volumes']} volumes")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    cfg = _config(args)
    require_engine()
    status = Foundation(cfg).status()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    if not status["jobs"]:
        print(f"foundation {cfg.project!r} is not running (start it with `make up`)")
        return 3
    print(f"foundation {cfg.project!r}   mode: {status['mode'] or cfg.mode}"
          f"   dashboard: {status['dashboard']}")
    print(f"{'job':<20} {'state':<10} {'health':<10} container")
    for job, st in sorted(status["jobs"].items()):
        print(f"{job:<20} {st['state']:<10} {st['health']:<10} {st['container']}")
    if status["cfdot"]:
        print(f"cfdot from the host (BBS {status['bbs']}, mutual TLS): {status['cfdot']}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    cfg = _config(args)
    require_engine()
    foundation = Foundation(cfg)
    jobs = foundation.job_states()
    if args.job not in jobs:
        known = ", ".join(sorted(jobs)) or "none running"
        print(f"cflab logs: no job {args.job!r} in foundation {cfg.project!r} (jobs: {known})",
              file=sys.stderr)
        return 2
    cmd = ["docker", "logs", "--tail", str(args.tail), jobs[args.job]["container"]]
    if args.follow:
        cmd.insert(2, "-f")
    return subprocess.call(cmd)


def lab_actions(args: argparse.Namespace) -> tuple:
    """What the lab's page calls: a scenario run as `cflab scenario run` makes it, the
    switch as `cflab mode` makes it, and the foundation as `cflab status` reads it."""
    from orchestrator.scenario.runner import run_scenario

    def run(sc, modes, out, log, watch):
        require_engine()
        return run_scenario(sc, modes, out=out, log=lambda m: (print(m, flush=True), log(m)),
                            project=args.scenario_project, watch=watch)

    def switch(mode: str) -> None:
        mode_args = argparse.Namespace(**{**vars(args), "mode": mode, "wait": 180.0})
        if cmd_mode(mode_args) != 0:
            raise PhaseError(f"foundation {_config(args).project!r} is not running"
                             " (start it with `make up`)")

    def foundation() -> dict:
        status = Foundation(_config(args)).status()
        return {"project": status["project"], "mode": status["mode"],
                "dashboard": status["dashboard"],
                "jobs": {j: {"state": s["state"], "health": s["health"]}
                         for j, s in status["jobs"].items()}}

    return run, switch, foundation


def cmd_lab(args: argparse.Namespace) -> int:
    """The incidents page on the host: scenario runs and `cflab mode` need Docker, which
    the in-foundation dashboard job must not have."""
    from orchestrator.lab import Lab
    from orchestrator.lab_server import LabServer

    require_engine()
    lab = Lab(args.dir, args.out, *lab_actions(args))
    server = LabServer(lab, args.port)
    print(f"cflab lab: http://127.0.0.1:{server.port}/  (runs write {args.out}/<scenario>/;"
          f" Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        going = lab.running_mode()
        if going is not None:  # the run's thread dies with the lab: take its foundation down
            print(f"cflab lab: stopped mid-run; removing foundation {going.cfg.project!r}",
                  file=sys.stderr, flush=True)
            going.foundation.down()
        raise
    finally:
        server.server_close()
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    require_engine()
    if args.remove:
        removed = images.remove_all()
        print(f"removed {len(removed)} images: {', '.join(removed) or 'none'}")
        return 0
    built = images.build(images.for_proxy(args.proxy), force=args.force)
    print(f"images: built {', '.join(built) or 'nothing (all present)'}")
    return 0


def cmd_soak(args: argparse.Namespace) -> int:
    from orchestrator import soak

    require_engine()
    return soak.run(args.minutes, args.out, args.project or soak.PROJECT)


def cmd_swarm_lab(args: argparse.Namespace) -> int:
    from orchestrator import swarm_lab

    swarm_lab.LabPlan(args.nodes)   # bad input fails before anything starts
    require_engine()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    return swarm_lab.run_lab(args.nodes, args.scenario, modes, args.out)


def schema_dir() -> Path:
    from orchestrator.scenario import schema

    return schema.SCENARIO_DIR


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cflab", description=__doc__)
    p.add_argument("--config", type=Path, help="foundation config YAML (default: CF's defaults)")
    p.add_argument("--project", help="Compose project name (default: cflab)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="build images, run the PKI step, start the foundation")
    up.add_argument("--mode", choices=config.MODES, help="route-integrity mode")
    up.add_argument("--cells", type=int, help="number of Diego cells")
    up.add_argument("--proxy", choices=config.PROXIES,
                    help="the proxy in each app container: cflab's (default) or the real Envoy")
    up.add_argument("--engine", choices=config.ENGINES,
                    help="compose (default): this engine; swarm: a stack on its swarm")
    up.add_argument("--wait", type=float, default=180.0, metavar="SECONDS",
                    help="how long to wait for every job to be healthy (default 180)")
    up.set_defaults(func=cmd_up)

    mode = sub.add_parser("mode", help="switch the route-integrity mode of a running foundation")
    mode.add_argument("mode", choices=config.MODES)
    mode.add_argument("--wait", type=float, default=180.0, metavar="SECONDS")
    mode.set_defaults(func=cmd_mode)

    down = sub.add_parser("down", help="remove the foundation's containers, networks, volumes")
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="jobs, their health, and the mode")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    logs = sub.add_parser("logs", help="a job's log")
    logs.add_argument("job")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("--tail", type=int, default=200)
    logs.set_defaults(func=cmd_logs)

    scenario_cli.add_parser(sub)

    soak_p = sub.add_parser("soak", help="steady load and recurring faults in strict mode for"
                                         " N minutes; per-job RSS/fds, a table and a plot")
    soak_p.add_argument("--minutes", type=float, default=30.0)
    soak_p.add_argument("--out", type=Path, default=Path("out/soak"))
    soak_p.set_defaults(func=cmd_soak)

    lab = sub.add_parser("lab", help="the incidents page: start scenarios, watch them live,"
                                     " past runs, switch the mode (on 127.0.0.1)")
    lab.add_argument("--port", type=int, default=8090, help="port on 127.0.0.1 (default 8090)")
    lab.add_argument("--out", type=Path, default=Path("out/scenarios"),
                     help="runs write DIR/<scenario>/; past runs are read from here"
                          " (default out/scenarios, where `make scenarios` writes)")
    lab.add_argument("--scenario-project", default="cflab-scn",
                     help="Compose project of a run's foundations (default cflab-scn)")
    lab.add_argument("--dir", type=Path, default=schema_dir(), help=argparse.SUPPRESS)
    lab.set_defaults(func=cmd_lab)

    lab_swarm = sub.add_parser(
        "swarm-lab", help="a swarm of N Docker-in-Docker nodes here, one cell on each, a"
                          " scenario across them; measured, then removed completely")
    lab_swarm.add_argument("--nodes", type=int, default=3, help="nodes (default 3)")
    lab_swarm.add_argument("--scenario", default="stale-route-port-reuse",
                           help="the scenario to run (its one cell on the last node)")
    lab_swarm.add_argument("--modes", default="before-envoy,strict",
                           help="comma-separated modes (default before-envoy,strict)")
    lab_swarm.add_argument("--out", type=Path, default=Path("out/swarm-lab"))
    lab_swarm.set_defaults(func=cmd_swarm_lab)

    img = sub.add_parser("images", help="build cflab's images (or --remove them)")
    img.add_argument("--force", action="store_true", help="rebuild even what exists")
    img.add_argument("--remove", action="store_true", help="remove every cflab image")
    img.add_argument("--proxy", choices=config.PROXIES, default=config.PROXIES[0],
                     help="envoy: also the stack variant with the real Envoy binary")
    img.set_defaults(func=cmd_images)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except config.ConfigError as exc:
        print(f"cflab: bad foundation config: {exc}", file=sys.stderr)
        return 2
    except PhaseError as exc:
        print(f"cflab: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
