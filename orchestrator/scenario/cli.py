"""`cflab scenario list|new|check|run|pack|replay|table`: the CLI wires these in with add_parser and run_command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestrator.config import MODES, PROXIES, ConfigError
from orchestrator.progress import PhaseError
from orchestrator.scenario import incident, schema, templates
from orchestrator.scenario.results import FAILED, PASSED, SKIPPED


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `scenario list` and `scenario run NAME [--mode M | --all-modes] [--out DIR]`."""
    p = subparsers.add_parser("scenario", help="replay incident scenarios in each mode")
    sub = p.add_subparsers(dest="scenario_command", required=True, metavar="SUBCOMMAND")
    ls = sub.add_parser("list", help="shipped scenarios and yours, with modes and descriptions")
    ls.add_argument("folders", nargs="*", type=Path, metavar="DIR",
                    help="also list the scenarios in these folders")
    ls.add_argument("--dir", type=Path, default=schema.SCENARIO_DIR, help=argparse.SUPPRESS)
    new = sub.add_parser("new", help="write a commented template (or a copy) to start from")
    new.add_argument("name", help="the new scenario's name (lower-case letters, digits, '-')")
    new.add_argument("--from", dest="source", metavar="SCENARIO",
                     help="copy this scenario (a name or a file) instead of the template")
    new.add_argument("--dir", type=Path, default=schema.SCENARIO_DIR,
                     help="folder to write NAME.yml in (default: scenarios/)")
    run = sub.add_parser("run", help="run a scenario (every mode it declares by default)")
    run.add_argument("name", help="scenario name (see `cflab scenario list`) or a YAML path")
    which = run.add_mutually_exclusive_group()
    which.add_argument("--mode", choices=MODES, action="append",
                       help="only this mode (repeatable)")
    which.add_argument("--all-modes", action="store_true",
                       help="all three modes; modes the scenario does not apply to are"
                            " reported as skipped")
    run.add_argument("--out", type=Path, default=Path("scenario-results"),
                     help="results go to DIR/<scenario>/ (default ./scenario-results)")
    run.add_argument("--dir", type=Path, default=schema.SCENARIO_DIR, help=argparse.SUPPRESS)
    run.add_argument("--proxy", choices=PROXIES,
                     help="the proxy in each app container (default: the foundation's, cflab)")
    chk = sub.add_parser("check", help="validate scenario files without starting anything")
    chk.add_argument("files", nargs="+", metavar="FILE",
                     help="scenario YAML files (or names of shipped scenarios)")
    chk.add_argument("--dir", type=Path, default=schema.SCENARIO_DIR, help=argparse.SUPPRESS)
    pk = sub.add_parser("pack", help="bundle a run (scenario, settings, results, evidence)"
                                     " into one .tar.gz")
    pk.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                    help="the folder `scenario run --out DIR` wrote: DIR/NAME")
    pk.add_argument("-o", "--output", type=Path,
                    help="the pack to write (default NAME-incident.tar.gz)")
    rp = sub.add_parser("replay", help="re-run a pack on a fresh foundation; verdicts then"
                                       " and now side by side")
    rp.add_argument("pack", type=Path, metavar="PACK")
    rp.add_argument("--mode", choices=MODES, action="append",
                    help="only this mode (default: the modes the pack ran)")
    rp.add_argument("--out", type=Path, default=Path("scenario-results/replay"),
                    help="this run's results go to DIR/<scenario>/"
                         " (default ./scenario-results/replay)")
    tab = sub.add_parser("table", help="one side-by-side Markdown table of the results in DIR")
    tab.add_argument("--out", type=Path, default=Path("scenario-results"),
                     help="where `scenario run --out` wrote (default ./scenario-results)")
    for sp in (p, ls, new, run, chk, pk, rp, tab):
        sp.set_defaults(func=run_command)
    return p


def resolve(name: str, directory: Path = schema.SCENARIO_DIR) -> Path:
    path = Path(name)
    if path.suffix in (".yml", ".yaml") and path.exists():
        return path
    found = schema.discover(directory)
    if name not in found:
        raise schema.ScenarioError(f"no scenario {name!r} (known: {', '.join(found) or 'none'})")
    return found[name]


def _line(name: str, path: Path) -> tuple[str, bool]:
    try:
        sc = schema.load_file(path)
    except schema.ScenarioError as exc:
        first = str(exc).splitlines()[0]
        return f"  {name:<28} INVALID: {first}", False
    first = sc.description.splitlines()[0] if sc.description else ""
    return f"  {name:<28} {', '.join(sc.modes):<34} {first}", True


def cmd_list(args: argparse.Namespace) -> int:
    found = schema.discover(args.dir)
    shipped = templates.shipped(args.dir)
    sections = [("shipped", {n: p for n, p in found.items() if n in shipped}),
                (f"yours ({args.dir})", {n: p for n, p in found.items() if n not in shipped})]
    sections += [(f"yours ({d})", schema.discover(d)) for d in args.folders]
    status = 0
    for title, scenarios in sections:
        if not scenarios:
            continue
        print(f"{title}:")
        for name, path in scenarios.items():
            line, ok = _line(name, path)
            print(line)
            status = status if ok else 2
    return status


def cmd_new(args: argparse.Namespace) -> int:
    source = None
    if args.source:
        mine = schema.discover(args.dir) if args.dir.exists() else {}
        source = mine.get(args.source) or resolve(args.source)
    path = templates.write(args.name, args.dir, source)
    print(f"wrote {path}" + (f" (a copy of {source.stem})" if source else " (a template)"))
    print(f"  edit it, then: cflab scenario check {path} && cflab scenario run {path}")
    return 0


def check(name: str, directory: Path = schema.SCENARIO_DIR) -> schema.Scenario:
    """The one check `scenario check` and `scenario run` share: the whole file is
    validated (every step, every mode's foundation) before anything starts."""
    return schema.load_file(resolve(name, directory))


def cmd_check(args: argparse.Namespace) -> int:
    status = 0
    for name in args.files:
        try:
            sc = check(name, args.dir)
        except schema.ScenarioError as exc:
            print(exc, file=sys.stderr)
            status = 2
            continue
        print(f"{name}: ok — {sc.name}, {len(sc.steps)} steps, modes {', '.join(sc.modes)}")
    return status


def cmd_table(args: argparse.Namespace) -> int:
    from orchestrator.scenario import matrix

    try:
        results = matrix.load(args.out)
    except ValueError as exc:
        print(f"cflab scenario table: {exc}", file=sys.stderr)
        return 2
    if not results:
        print(f"cflab scenario table: no result.json under {args.out}/*/", file=sys.stderr)
        return 2
    print(matrix.table(results))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from orchestrator.docker_cli import require_engine
    from orchestrator.scenario.runner import run_scenario

    sc = check(args.name, args.dir)
    modes = list(MODES) if args.all_modes else (args.mode or list(sc.modes))
    require_engine()
    proxy = getattr(args, "proxy", None)
    results = run_scenario(sc, modes, out=args.out, project=getattr(args, "project", None),
                           placement={"proxy": proxy} if proxy else None)
    if any(r.status not in (PASSED, SKIPPED) for r in results):
        return 1 if all(r.status in (PASSED, FAILED, SKIPPED) for r in results) else 4
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    output = args.output or Path(f"{args.run_dir.resolve().name}-incident.tar.gz")
    names = incident.pack(args.run_dir, output)
    print(f"wrote {output}: {len(names)} files ({output.stat().st_size // 1024} KiB)")
    print(f"  read it: tar -xzf {output}; replay it: cflab scenario replay {output}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from orchestrator.docker_cli import require_engine

    require_engine()
    _, now, text = incident.replay(args.pack, args.out, args.mode,
                                   project=getattr(args, "project", None))
    print(text, end="")
    statuses = [m.get("status") for m in (now.get("modes") or {}).values()]
    if all(s in (PASSED, SKIPPED) for s in statuses):
        return 0
    return 1 if all(s in (PASSED, FAILED, SKIPPED) for s in statuses) else 4


def run_command(args: argparse.Namespace) -> int:
    """Entry point for `cflab scenario ...`; exit 0 all passed, 1 an expectation failed,
    2 a bad scenario file, 4 a mode could not run."""
    try:
        if args.scenario_command == "list":
            return cmd_list(args)
        if args.scenario_command == "table":
            return cmd_table(args)
        if args.scenario_command == "check":
            return cmd_check(args)
        if args.scenario_command == "new":
            return cmd_new(args)
        if args.scenario_command == "pack":
            return cmd_pack(args)
        if args.scenario_command == "replay":
            return cmd_replay(args)
        return cmd_run(args)
    except (schema.ScenarioError, ConfigError, incident.PackError) as exc:
        print(f"cflab scenario: {exc}", file=sys.stderr)
        return 2
    except PhaseError as exc:
        print(f"cflab scenario: {exc}", file=sys.stderr)
        return 4


def main(argv: list[str] | None = None) -> int:
    """Standalone: `python -m orchestrator.scenario.cli list` (until cflab wires it)."""
    parser = argparse.ArgumentParser(prog="cflab")
    parser.add_argument("--project", help=argparse.SUPPRESS)
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
