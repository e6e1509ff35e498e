"""The package layering of agent/ (docs/ARCHITECTURE.md), checked over the real import graph.

Every `import`/`from ... import` in agent/ (including those under `if TYPE_CHECKING:` and
inside functions) is read with `ast`. A module may import its own package and the
packages the table below allows; the graph of modules must have no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parent.parent / "agent"

# The shared bottom: single modules every package may use.
BOTTOM = {
    "agent",
    "agent.model",
    "agent.errors",
    "agent.textsafe",
    "agent.paths",
    "agent.osmark",
    "agent.testhooks",
}
# package -> packages it may import besides itself and the bottom (the layer rule).
ALLOWED: dict[str, set[str]] = {
    "bottom": {"platform"},
    "platform": set(),
    "inspect": {"platform"},
    "vault": {"platform"},
    "policy": {"inspect", "platform"},
    "sanitize": {"inspect", "platform"},
    "service": {"inspect", "policy", "vault", "sanitize", "platform"},
    "ui": {"inspect", "policy", "vault", "service", "sanitize", "platform"},
    "commands": {"inspect", "policy", "vault", "service", "sanitize", "ui", "platform"},
    "main": {"commands"},
}


def module_name(path: Path) -> str:
    """Dotted module name of a file under agent/ (`agent/vault/store.py` -> agent.vault.store)."""
    parts = list(path.relative_to(AGENT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    """The layer a module belongs to: its first package under agent, or "bottom"."""
    if module in BOTTOM:
        return "bottom"
    if module == "agent.__main__":
        return "main"
    parts = module.split(".")
    if len(parts) < 2:
        return "bottom"
    return parts[1]


def imports_of(path: Path, module: str) -> set[str]:
    """Every agent module or package named by an import statement in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "agent")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "agent":
                continue
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _exists(candidate) else target)
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (AGENT / relative).with_suffix(".py").is_file() or (AGENT / relative).is_dir()


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(AGENT.rglob("*.py")):
        module = module_name(path)
        graph[module] = {m for m in imports_of(path, module) if m != module}
    return graph


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Each import against the layer rule, as "importer -> imported"."""
    problems = []
    for module, targets in graph.items():
        own = package_of(module)
        for target in targets:
            other = package_of(target)
            if other in ("bottom", own) or other in ALLOWED[own]:
                continue
            problems.append(f"{module} ({own}) -> {target} ({other})")
    return sorted(problems)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                child = pending.pop()
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_in_agent() -> None:
    assert cycles(_graph()) == []


def test_no_import_against_the_layer_order() -> None:
    assert layer_violations(_graph()) == []


def test_every_package_says_what_it_owns_and_may_import() -> None:
    for init in sorted(AGENT.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc, f"{init} has no docstring"
        assert "import" in doc, f"{init}'s docstring does not say what it may import"


def test_only_the_watch_module_imports_watchdog_and_only_ui_imports_pystray() -> None:
    for path in AGENT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {
            (n.module or "") if isinstance(n, ast.ImportFrom) else a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in n.names
        }
        tops = {name.split(".")[0] for name in names}
        module = module_name(path)
        if "watchdog" in tops:
            assert module == "agent.service.watch", module
        if "pystray" in tops:
            assert module == "agent.ui.tray", module


# The checks themselves must be able to fail: run them on small made-up graphs.
@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        (
            {
                "agent.vault.store": {"agent.vault.restore"},
                "agent.vault.restore": {"agent.vault.store"},
            },
            [["agent.vault.restore", "agent.vault.store"]],
        ),
        (
            {"agent.a.x": {"agent.a.y"}, "agent.a.y": {"agent.a.z"}, "agent.a.z": {"agent.a.x"}},
            [["agent.a.x", "agent.a.y", "agent.a.z"]],
        ),
        ({"agent.a.x": {"agent.a.y"}, "agent.a.y": set()}, []),
    ],
)
def test_cycle_finder_on_known_graphs(
    graph: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert cycles(graph) == expected


def test_layer_rule_refuses_an_upward_import() -> None:
    graph = {"agent.inspect.engine": {"agent.service.pipeline", "agent.model"}}
    assert layer_violations(graph) == [
        "agent.inspect.engine (inspect) -> agent.service.pipeline (service)"
    ]
    assert layer_violations({"agent.ui.tray": {"agent.service.state"}}) == []
