"""Reports: the side-by-side Markdown table (sans-IO), result.json and the timeline PNG."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from orchestrator.scenario import analysis
from orchestrator.scenario.classify import ERROR, INTENDED, MISROUTED
from orchestrator.scenario.results import SKIPPED, ModeResult
from orchestrator.scenario.schema import Scenario

COLOURS = {INTENDED: "#2ca02c", MISROUTED: "#d62728", ERROR: "#ff7f0e"}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def markdown(scenario: Scenario, results: Sequence[ModeResult]) -> str:
    """Mode × misrouted / errors / availability, then each mode's expectations."""
    lines = [f"# {scenario.name}", ""]
    if scenario.description:
        lines += [scenario.description, ""]
    lines += ["| mode | result | requests | misrouted | errors | availability | recovery |",
              "|---|---|---:|---:|---|---:|---:|"]
    for r in results:
        if r.status == SKIPPED:
            lines.append(f"| {r.mode} | skipped | – | – | – | – | – |")
            continue
        c = r.counts
        rec = "–" if r.recovery is None else f"{r.recovery:.1f} s"
        lines.append(f"| {r.mode} | {r.status} | {c.requests} | {c.misrouted} |"
                     f" {analysis.summarise_errors(c)} | {_pct(c.availability)} | {rec} |")
    for r in results:
        lines += ["", f"## {r.mode}: {r.status}", ""]
        if r.note:
            lines += [f"_{r.note}_", ""]
        if r.error:
            lines += [f"**error:** `{r.error}`", ""]
        for o in r.outcomes:
            mark = "✓" if o.passed else "✗"
            extra = f" ({o.note})" if o.note else ""
            over = f" — {o.window.text()}" if o.window else ""
            lines.append(f"- {mark} `{o.expectation}` — actual {o.actual}{extra}{over}")
        misroutes = r.counts.answered_by
        if misroutes:
            lines.append("- misroutes: " + ", ".join(f"{k} ×{n}" for k, n in misroutes.items()))
        phases = analysis.by_phase(r.samples)
        if phases:
            lines.append("- by phase: " + "; ".join(
                f"{p}: {c.misrouted} misrouted, {c.errors} errors, {_pct(c.availability)}"
                for p, c in phases.items()))
        for name, value in r.timers.items():
            lines.append(f"- timer {name}: " + ("timed out" if value is None else f"{value:.1f} s"))
        for name, ok in r.checks.items():
            detail = r.check_details.get(name, "")
            lines.append(f"- check {name}: {'ok' if ok else 'fail'}"
                         + (f" — {detail}" if detail else ""))
    return "\n".join(lines) + "\n"


def write_json(path: Path, scenario: Scenario, results: Sequence[ModeResult]) -> None:
    doc = {"scenario": scenario.name, "description": scenario.description,
           "source": str(scenario.path) if scenario.path else None,
           "passed": all(r.status in ("passed", SKIPPED) for r in results),
           "modes": {r.mode: r.to_json() for r in results}}
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")


def points(result: ModeResult, routes: Sequence[str]) -> dict[str, tuple[list[float], list[int]]]:
    """Outcome -> (x, y) of every request: x is when it was *sent* (a request in flight
    across a fault shows where it started, however long it took), y its route's row."""
    out: dict[str, tuple[list[float], list[int]]] = {o: ([], []) for o in COLOURS}
    for s in result.samples:
        if s.route in routes and s.outcome in out:
            out[s.outcome][0].append(s.t)
            out[s.outcome][1].append(routes.index(s.route))
    return out


def stagger(spans: Sequence[tuple[float, float]], gap: float = 4.0) -> list[int]:
    """A row for each label span (x0, x1), in the given order, so that no two labels in a
    row overlap: the lowest row whose last label ends `gap` before this one starts."""
    ends: list[float] = []
    rows = []
    for x0, x1 in spans:
        row = next((i for i, e in enumerate(ends) if e + gap <= x0), len(ends))
        if row == len(ends):
            ends.append(x1)
        else:
            ends[row] = x1
        rows.append(row)
    return rows


ROW = 0.38   # one label row, in route rows


def _labels(ax, renderer, items: list[tuple[float, str, str]], y0: float, up: bool) -> int:
    """Draw labels (x, text, colour) in staggered rows from y0 outwards; returns the rows."""
    items = sorted(items)
    texts = [ax.text(x, y0, text, fontsize=7, color=colour, va="bottom" if up else "top",
                     clip_on=False) for x, text, colour in items]
    spans = [(t.get_window_extent(renderer).x0, t.get_window_extent(renderer).x1)
             for t in texts]
    rows = stagger(spans)
    for t, row in zip(texts, rows, strict=True):
        t.set_y(y0 + row * ROW if up else y0 - row * ROW)
    return max(rows, default=-1) + 1


def timeline_png(path: Path, scenario: Scenario, results: Sequence[ModeResult]) -> None:
    """One row per mode: x = time sent, y = route, colour = outcome; fault windows shaded
    and labelled above, marks dotted and labelled below, labels never on top of each other."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    shown = [r for r in results if r.status != SKIPPED] or list(results)
    routes = list(scenario.routes)
    fig, axes = plt.subplots(len(shown), 1,
                             figsize=(12, 1.6 + 1.3 * max(len(routes), 1.5) * len(shown)),
                             squeeze=False, sharex=True)
    end = max((s.t for r in shown for s in r.samples), default=1.0)
    for ax, r in zip(axes[:, 0], shown, strict=True):
        for outcome, (xs, ys) in points(r, routes).items():
            if xs:
                ax.scatter(xs, ys, s=10, c=COLOURS[outcome],
                           marker="|" if outcome == INTENDED else "o", linewidths=1, zorder=3)
        for f in r.faults:
            stop = f.get("end") if f.get("end") is not None else end
            if stop - f["start"] < 0.05:
                ax.axvline(f["start"], color="#7f7f7f", linestyle="--", linewidth=1)
            else:
                ax.axvspan(f["start"], stop, color="#9467bd", alpha=0.15, zorder=1)
        for m in r.marks:
            ax.axvline(m["t"], color="#1f77b4", linestyle=":", linewidth=1)
        ax.set_yticks(range(len(routes)), routes)
        ax.set_xlim(-0.02 * end, end * 1.02)
        ax.set_title(f"{r.mode}: {r.status}", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("seconds since the load started (each request at the time it was"
                           " sent)")
    handles = [Line2D([], [], color=c, marker="o", linestyle="", label=o)
               for o, c in COLOURS.items()]
    fig.legend(handles=handles, loc="upper right", fontsize=8, ncol=3)
    fig.suptitle(scenario.name, fontsize=11, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    renderer = fig.canvas.get_renderer()
    for ax, r in zip(axes[:, 0], shown, strict=True):
        top = len(routes) - 0.5
        bottom = -0.6
        up = _labels(ax, renderer, [(f["start"], f["name"], "#4b2a7a") for f in r.faults],
                     top + 0.05, up=True)
        down = _labels(ax, renderer, [(m["t"], m["name"], "#1f77b4") for m in r.marks],
                       bottom - 0.05, up=False)
        ax.set_ylim(bottom - down * ROW - 0.1, top + up * ROW + 0.15)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(out: Path, scenario: Scenario, results: Sequence[ModeResult]) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "result.json", "markdown": out / "report.md",
             "png": out / "timeline.png"}
    write_json(paths["json"], scenario, results)
    paths["markdown"].write_text(markdown(scenario, results))
    timeline_png(paths["png"], scenario, results)
    return paths
