"""`cflab scenario list|run`: the CLI wires these in with add_parser and run_command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestrator.config import MODES, PROXIES, ConfigError
from orchestrator.progress import PhaseError
from orchestrator.scenario import schema
from orchestrator.scenario.results import FAILED, PASSED, SKIPPED


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `scenario list` and `scenario run NAME [--mode M | --all-modes] [--out DIR]`."""
    p = subparsers.add_parser("scenario", help="replay incident scenarios in each mode")
    sub = p.add_subparsers(dest="scenario_command", required=True, metavar="SUBCOMMAND")
    ls = sub.add_parser("list", help="the scenarios in scenarios/ and their modes")
    ls.add_argument("--dir", type=Path, default=schema.SCENARIO_DIR, help=argparse.SUPPRESS)
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
    tab = sub.add_parser("table", help="one side-by-side Markdown table of the results in DIR")
    tab.add_argument("--out", type=Path, default=Path("scenario-results"),
                     help="where `scenario run --out` wrote (default ./scenario-results)")
    for sp in (p, ls, run, tab):
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


def cmd_list(args: argparse.Namespace) -> int:
    status = 0
    for name, path in schema.discover(args.dir).items():
        try:
            sc = schema.load_file(path)
        except schema.ScenarioError as exc:
            print(f"{name:<28} INVALID: {exc}")
            status = 2
            continue
        first = sc.description.splitlines()[0] if sc.description else ""
        print(f"{name:<28} {', '.join(sc.modes):<34} {first}")
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

    sc = schema.load_file(resolve(args.name, args.dir))
    modes = list(MODES) if args.all_modes else (args.mode or list(sc.modes))
    require_engine()
    proxy = getattr(args, "proxy", None)
    results = run_scenario(sc, modes, out=args.out, project=getattr(args, "project", None),
                           placement={"proxy": proxy} if proxy else None)
    if any(r.status not in (PASSED, SKIPPED) for r in results):
        return 1 if all(r.status in (PASSED, FAILED, SKIPPED) for r in results) else 4
    return 0


def run_command(args: argparse.Namespace) -> int:
    """Entry point for `cflab scenario ...`; exit 0 all passed, 1 an expectation failed,
    2 a bad scenario file, 4 a mode could not run."""
    try:
        if args.scenario_command == "list":
            return cmd_list(args)
        if args.scenario_command == "table":
            return cmd_table(args)
        return cmd_run(args)
    except (schema.ScenarioError, ConfigError) as exc:
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
