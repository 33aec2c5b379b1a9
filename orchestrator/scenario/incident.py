"""Incident packs: one run as a plain .tar.gz another team can read and replay.

A pack holds ``NAME/``: ``scenario.yml`` (the file as it ran), ``result.json``,
``report.md``, ``timeline.png``, ``README.txt``, and per mode ``foundation.yml`` (the
settings it ran with) and ``evidence/`` (router /routes, cfdot actual-lrps, the proxies'
/certs, access-log lines around each fault, log tails). Replaying runs the scenario on a
fresh foundation and sets the verdicts then and now side by side (``compare``, sans-IO).
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from orchestrator.scenario import schema

TOP_FILES = ("scenario.yml", "result.json", "report.md", "timeline.png")
# Settings that differ between any two runs by design, not by what was tested.
PLACEMENT_KEYS = ("project", "ports", "subnets")


class PackError(ValueError):
    """Not a run folder, or not a readable incident pack."""


def _members(run_dir: Path) -> list[Path]:
    files = [run_dir / f for f in TOP_FILES if (run_dir / f).is_file()]
    for mode_dir in sorted(p for p in run_dir.iterdir() if p.is_dir()):
        if (mode_dir / "foundation.yml").is_file():
            files.append(mode_dir / "foundation.yml")
        files += sorted(p for p in (mode_dir / "evidence").rglob("*") if p.is_file())
    return files


def readme(doc: dict[str, Any]) -> str:
    """README.txt: what happened, the verdicts, what each file is (readable without cflab)."""
    lines = [f"Incident pack: {doc.get('scenario')}", "",
             (doc.get("description") or "").strip(), "", "Verdicts when packed:"]
    for mode, m in (doc.get("modes") or {}).items():
        c = m.get("counts") or {}
        lines.append(f"  {mode}: {m.get('status')} — {c.get('requests', 0)} requests,"
                     f" {c.get('misrouted', 0)} misrouted, {c.get('errors', 0)} errors")
        for o in m.get("expectations") or []:
            lines.append(f"    {'✓' if o.get('passed') else '✗'} {o.get('expectation')}"
                         f" (actual {o.get('actual')})")
    lines += ["", "Files:",
              "  scenario.yml       the scenario as it ran (docs/scenarios.md in cflab)",
              "  result.json        per mode: counts, expectations, timers, checks, fault"
              " windows, marks, steps, requests",
              "  report.md          the same as a table", "  timeline.png       every request"
              " at the time it was sent, fault windows shaded",
              "  MODE/foundation.yml  the foundation settings the mode ran with",
              "  MODE/evidence/     router /routes, cfdot actual-lrps, proxies' /certs,"
              " access-log lines around each fault, log tails",
              "", f"Replay: cflab scenario replay {doc.get('scenario')}-incident.tar.gz", ""]
    return "\n".join(lines)


def pack(run_dir: Path, output: Path) -> list[str]:
    """Write `output` from a `scenario run` folder (OUT/NAME); returns the member names."""
    result = run_dir / "result.json"
    if not result.is_file():
        raise PackError(f"{run_dir}: not a run folder (no result.json; `cflab scenario run"
                        f" --out DIR` writes DIR/NAME/)")
    try:
        doc = json.loads(result.read_text())
    except ValueError as exc:
        raise PackError(f"{result}: not readable JSON ({exc})") from None
    if not (run_dir / "scenario.yml").is_file():
        raise PackError(f"{run_dir}: no scenario.yml (the run predates packs: run it again)")
    name = str(doc.get("scenario") or run_dir.name)
    names = []
    with tarfile.open(output, "w:gz") as tar:
        def add(arcname: str, data: bytes, mtime: float) -> None:
            info = tarfile.TarInfo(f"{name}/{arcname}")
            info.size, info.mode, info.mtime = len(data), 0o644, int(mtime)
            tar.addfile(info, io.BytesIO(data))
            names.append(info.name)
        add("README.txt", readme(doc).encode(), result.stat().st_mtime)
        for path in _members(run_dir):
            add(path.relative_to(run_dir).as_posix(), path.read_bytes(), path.stat().st_mtime)
    return names


def unpack(pack_file: Path, dest: Path) -> Path:
    """Extract a pack (plain files only, nothing outside `dest`); returns NAME/."""
    try:
        with tarfile.open(pack_file, "r:gz") as tar:
            tops = {m.name.split("/", 1)[0] for m in tar.getmembers()}
            if len(tops) != 1:
                raise PackError(f"{pack_file}: expected one folder NAME/, found"
                                f" {', '.join(sorted(tops)) or 'nothing'}")
            tar.extractall(dest, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise PackError(f"{pack_file}: not a readable incident pack ({exc})") from None
    root = dest / tops.pop()
    for f in ("scenario.yml", "result.json"):
        if not (root / f).is_file():
            raise PackError(f"{pack_file}: no {root.name}/{f} in the pack")
    return root


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def settings_changed(then: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """`timings.x: 2s → 3s` for each foundation setting that differs (placement aside)."""
    a, b = _flat(then), _flat(now)
    keys = [k for k in dict.fromkeys([*a, *b]) if k.split(".")[0] not in PLACEMENT_KEYS]
    return [f"{k}: {a.get(k, '–')} → {b.get(k, '–')}" for k in keys if a.get(k) != b.get(k)]


def _verdict(o: dict[str, Any] | None) -> str:
    if o is None:
        return "–"
    return f"{'✓' if o['passed'] else '✗'} {o.get('actual')}"


def compare(then: dict[str, Any], now: dict[str, Any]) -> tuple[str, list[str]]:
    """The verdicts then and now side by side, per mode; and what changed."""
    lines = [f"{then.get('scenario')}: then (the pack) and now (this run)", ""]
    changed: list[str] = []
    for mode in dict.fromkeys([*(then.get("modes") or {}), *(now.get("modes") or {})]):
        t, n = (then.get("modes") or {}).get(mode, {}), (now.get("modes") or {}).get(mode, {})
        ts, ns = t.get("status", "–"), n.get("status", "–")
        lines.append(f"{mode}: then {ts}, now {ns}")
        if ts != ns:
            changed.append(f"{mode}: {ts} → {ns}")
        rows = [("", "then", "now")]
        te = {o["expectation"]: o for o in t.get("expectations") or []}
        ne = {o["expectation"]: o for o in n.get("expectations") or []}
        for exp in dict.fromkeys([*te, *ne]):
            a, b = te.get(exp), ne.get(exp)
            rows.append((exp, _verdict(a), _verdict(b)))
            if (a or {}).get("passed") != (b or {}).get("passed"):
                changed.append(f"{mode}: {exp} {_verdict(a)} → {_verdict(b)}")
        tc, nc = t.get("counts") or {}, n.get("counts") or {}
        rows.append(("requests / misrouted / errors",
                     *(f"{c.get('requests', 0)} / {c.get('misrouted', 0)} / {c.get('errors', 0)}"
                       if c else "–" for c in (tc, nc))))
        for timer in dict.fromkeys([*(t.get("timers") or {}), *(n.get("timers") or {})]):
            rows.append((f"timer {timer}", *(_seconds(d.get("timers") or {}, timer)
                                             for d in (t, n))))
        width = max(len(r[0]) for r in rows)
        col = max(len(r[1]) for r in rows)
        lines += [f"  {r[0]:<{width}}  {r[1]:<{col}}  {r[2]}".rstrip() for r in rows]
        if n.get("error"):
            lines.append(f"  now: error {n['error']}")
        lines.append("")
    lines.append("changed: " + ("; ".join(changed) if changed else "nothing"))
    return "\n".join(lines) + "\n", changed


def _seconds(timers: dict[str, Any], name: str) -> str:
    if name not in timers:
        return "–"
    return "timed out" if timers[name] is None else f"{timers[name]:.1f} s"


def replay(pack_file: Path, out: Path, modes: list[str] | None = None,
           project: str | None = None, placement: dict[str, Any] | None = None,
           log: Callable[[str], None] = lambda m: print(m, flush=True)
           ) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Re-run a pack's scenario on fresh foundations; (then, now, side-by-side text)."""
    from orchestrator.scenario.runner import run_scenario
    from orchestrator.scenario.settings import foundation_config

    with tempfile.TemporaryDirectory(prefix="cflab-pack-") as tmp:
        root = unpack(pack_file, Path(tmp))
        sc = schema.load_file(root / "scenario.yml")
        then = json.loads((root / "result.json").read_text())
        ran = [m for m, d in (then.get("modes") or {}).items() if d.get("status") != "skipped"]
        modes = modes or [m for m in ran if m in sc.modes] or list(sc.modes)
        ran_with = {m: yaml.safe_load((root / m / "foundation.yml").read_text()) or {}
                    for m in modes if (root / m / "foundation.yml").is_file()}
        placement = dict(placement or {})
        for cfg in ran_with.values():   # `scenario run --proxy` is not in the scenario file
            if "proxy" in cfg and "proxy" not in sc.foundation:
                placement.setdefault("proxy", cfg["proxy"])
        notes = []
        for mode, then_cfg in ran_with.items():
            now_cfg = foundation_config(sc.foundation, mode, project, placement or None).raw
            notes += [f"{mode}: {d}" for d in settings_changed(then_cfg, now_cfg)]
        if notes:
            log("foundation settings that differ from the pack's (cflab's defaults changed):")
            for note in notes:
                log(f"  {note}")
        started = time.time()
        run_scenario(sc, modes, out=out, project=project, placement=placement or None, log=log)
    now = json.loads((out / sc.name / "result.json").read_text())
    text, _ = compare(then, now)
    log(f"replayed in {time.time() - started:.0f}s")
    return then, now, text
