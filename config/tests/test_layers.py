"""Imports point one way: loadtests -> sales -> antiscalper -> shop -> core, and inside sales
the sub-packages form no circle, with the gate at the bottom (it knows only the models).

Read from the source with `ast`, so a new import in the wrong direction fails here before it
becomes a circular import at start-up. Tests are exempt: they may use any layer's fixtures.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RANK = {"core": 0, "shop": 1, "antiscalper": 2, "sales": 3, "loadtests": 4}
PROJECT = {*RANK, "config"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.glob("*/**/*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[0] not in PROJECT or "tests" in parts or "migrations" in parts:
            continue
        name = ".".join(parts).removesuffix(".__init__")
        found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Every project module `path` imports, `from pkg import module` counted as the module."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in PROJECT:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names
                               if f"{node.module}.{alias.name}" in MODULES)
        elif isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names
                           if alias.name.split(".")[0] in PROJECT)
    return targets


IMPORTS = {name: _imports(path) for name, path in MODULES.items()}


def _sales_group(module: str) -> str | None:
    """sales.gate.keys -> sales.gate; sales.services -> sales.services; elsewhere None."""
    parts = module.split(".")
    if parts[0] != "sales" or len(parts) == 1:
        return None
    return ".".join(parts[:2])


def test_the_modules_were_found():
    assert {"core.errors", "sales.gate.admission", "sales.pipeline.orders",
            "sales.modes.fcodes", "sales.api.views", "sales.web.sale_pages"} <= set(MODULES)


@pytest.mark.parametrize("app", sorted(RANK))
def test_an_app_imports_only_the_apps_below_it(app):
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in IMPORTS.items() if module.split(".")[0] == app
        for target in targets
        if target.split(".")[0] in RANK and RANK[target.split(".")[0]] > RANK[app])
    assert wrong == []


def test_the_sales_packages_form_no_circle():
    graph = defaultdict(set)
    for module, targets in IMPORTS.items():
        group = _sales_group(module)
        for target in targets:
            other = _sales_group(target)
            if group and other and other != group:
                graph[group].add(other)
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        pytest.fail(f"sales packages import each other in a circle: {error.args[1]}")
    assert order.index("sales.gate") < order.index("sales.services")


def test_the_gate_knows_only_the_models():
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in IMPORTS.items() if module.startswith("sales.gate")
        for target in targets
        if target.startswith("sales") and target not in ("sales", "sales.models", "sales.gate")
        and not target.startswith("sales.gate."))
    assert wrong == []
