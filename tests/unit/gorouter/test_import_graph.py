"""No module of foundry/gorouter imports one that imports it back (issue 14).

Type-checking imports count too: a circle there still means two modules that
cannot be read, or changed, one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "foundry" / "gorouter"


def imports(path: Path) -> set[str]:
    """foundry.gorouter modules `path` imports, anywhere in the file."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "foundry.gorouter":
                out.update(a.name for a in node.names)
            elif node.module.startswith("foundry.gorouter."):
                out.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[2] for a in node.names
                       if a.name.startswith("foundry.gorouter."))
    return out


def graph() -> dict[str, set[str]]:
    modules = {p.stem: p for p in PACKAGE.glob("*.py")}
    return {name: imports(path) & set(modules) - {name} for name, path in modules.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(n: str) -> None:
        state[n] = "open"
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if state.get(m) == "open":
                found.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = "done"

    for n in sorted(g):
        if n not in state:
            visit(n)
    return found


def test_the_helper_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_router_imports_one_that_imports_it_back() -> None:
    g = graph()
    assert {"proxy", "frontend", "fastpath", "roles"} <= set(g)
    assert cycles(g) == []
