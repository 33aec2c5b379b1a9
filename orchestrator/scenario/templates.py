"""`cflab scenario new`: a commented template or a copy of a scenario, ready to edit;
and which scenarios are shipped (tracked by git) and which are the user's."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from orchestrator.scenario import schema

TEMPLATE = Path(__file__).with_name("template.yml")
_NAME_LINE = re.compile(r"^name:.*$", re.M)


def render(name: str, source: Path | None = None) -> str:
    """The new file's text: the template, or `source` renamed, both checked."""
    if not schema.NAME.match(name):
        raise schema.ScenarioError(f"{name!r}: a scenario name is lower-case letters,"
                                   " digits and '-' (up to 41)")
    if source is None:
        text = TEMPLATE.read_text().replace("NAME_HERE", name)
    else:
        original = source.read_text()
        if not _NAME_LINE.search(original):
            raise schema.ScenarioError(f"{source}: has no top-level `name:` line to rename")
        text = (f"# Made from {source.stem} with `cflab scenario new {name} --from"
                f" {source.stem}`.\n# Reference: docs/scenarios.md\n"
                + _NAME_LINE.sub(f"name: {name}", original, count=1))
    schema.load_text(text, f"{name}.yml")   # what we write must pass the check
    return text


def write(name: str, directory: Path, source: Path | None = None) -> Path:
    path = directory / f"{name}.yml"
    if path.exists():
        raise schema.ScenarioError(f"{path} exists already: choose another name or remove it")
    text = render(name, source)
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def shipped(directory: Path = schema.SCENARIO_DIR) -> set[str]:
    """Names of the scenarios git tracks in cflab's own scenarios/ (every one there when
    git cannot tell); a scenario in any other folder is the user's."""
    if directory.resolve() != schema.SCENARIO_DIR.resolve():
        return set()
    try:
        proc = subprocess.run(["git", "-C", str(directory), "ls-files", "--", "*.yml"],
                              capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return set(schema.discover(directory))
    return {Path(line).stem for line in proc.stdout.splitlines() if line.strip()}
