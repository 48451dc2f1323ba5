"""Imports point one way: config -> loadtests -> sales -> antiscalper -> shop -> core, and inside
sales the sub-packages form no circle, with the gate at the bottom (it knows only the models).
config, the project package (settings, urls, wsgi, the Celery app), is the composition root:
it imports every app and no app imports it (a settings value such as STOREFRONT_ERROR_PAGE,
which core.error_handling imports by name, is configuration, not an import).

No two project modules import each other either, directly or through others, not even from
inside a function (where a circle hides from start-up but still ties the two together).

Read from the source with `ast`, so a new import in the wrong direction fails here before it
becomes a circular import at start-up. Tests are exempt: they may use any layer's fixtures.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from graphlib import CycleError, TopologicalSorter
from importlib.util import resolve_name
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RANK = {"core": 0, "shop": 1, "antiscalper": 2, "sales": 3, "loadtests": 4, "config": 5}
PROJECT = set(RANK)


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


def _absolute(node: ast.ImportFrom, importer: str | None) -> str | None:
    """The absolute module of `from <module> import ...`: a relative import (`from ..services
    import x` in sales.gate.ops) is resolved against the importing module's package."""
    if node.level == 0:
        return node.module
    if importer is None:
        return None
    package = importer.split(".")
    if not (importer in MODULES and MODULES[importer].name == "__init__.py"):
        package = package[:-1]  # a plain module's package; a package is its own
    base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
    return ".".join([*base, *([node.module] if node.module else [])]) or None


# Calls that import the module their first argument names, when it is a string literal:
# `importlib.import_module("x")` and `__import__("x")` import x; Django's
# `import_string("x.y.Name")` imports x.y (and takes Name from it).
IMPORTING_CALLS = {"import_module": False, "__import__": False, "import_string": True}


def _dynamic_import(node: ast.Call, importer: str | None) -> str | None:
    """The module a call such as `importlib.import_module("sales.services")` imports, or None
    (another call, or a name that is not a literal). A relative `import_module(".keys",
    "sales.gate")` (or `package=__package__`) is resolved like a relative import."""
    func = node.func
    name = func.id if isinstance(func, ast.Name) else (
        func.attr if isinstance(func, ast.Attribute) else None)
    if name not in IMPORTING_CALLS or not node.args:
        return None
    first = node.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None
    target = first.value
    if IMPORTING_CALLS[name]:
        target = target.rpartition(".")[0]
    if name == "import_module" and target.startswith("."):
        package = ([*node.args[1:2], *(k.value for k in node.keywords if k.arg == "package")]
                   or [None])[0]
        if isinstance(package, ast.Constant) and isinstance(package.value, str):
            anchor = package.value
        elif isinstance(package, ast.Name) and package.id == "__package__" and importer:
            anchor = importer if (importer in MODULES and MODULES[importer].name
                                  == "__init__.py") else importer.rpartition(".")[0]
        else:
            return None
        target = resolve_name(target, anchor)
    return target or None


def _imports(path: Path, importer: str | None = None) -> set[str]:
    """Every project module `path` imports, `from pkg import module` counted as the module,
    relative imports resolved against `importer` (the module `path` is), and the modules
    imported by a call with a literal name (`importlib.import_module("x")`, `__import__("x")`,
    `import_string("x.y.Name")`) counted like import statements."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (module := _absolute(node, importer)):
            if module.split(".")[0] in PROJECT:
                targets.add(module)
                targets.update(f"{module}.{alias.name}" for alias in node.names
                               if f"{module}.{alias.name}" in MODULES)
        elif isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names
                           if alias.name.split(".")[0] in PROJECT)
        elif isinstance(node, ast.Call) and (module := _dynamic_import(node, importer)):
            if module.split(".")[0] in PROJECT:
                targets.add(module)
    return targets


IMPORTS = {name: _imports(path, name) for name, path in MODULES.items()}


def _module_of(target: str) -> str | None:
    """The project module an import reaches: `sales.gate.keys.SaleKeys` is sales.gate.keys."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def _circles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others (the strongly
    connected components of more than one module, Tarjan's algorithm, iterative)."""
    graph = {module: sorted({m for t in targets if (m := _module_of(t)) and m != module})
             for module, targets in imports.items()}
    index, low, stack, on_stack, circles = {}, {}, [], set(), []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for other in edges:
                if other not in index:
                    index[other] = low[other] = len(index)
                    stack.append(other)
                    on_stack.add(other)
                    work.append((other, iter(graph.get(other, ()))))
                    break
                if other in on_stack:
                    low[node] = min(low[node], index[other])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while (member := stack.pop()) != node:
                        on_stack.discard(member)
                        component.append(member)
                    on_stack.discard(node)
                    if component:
                        circles.append(sorted([node, *component]))
    return sorted(circles)


def _sales_group(module: str) -> str | None:
    """sales.gate.keys -> sales.gate; sales.services -> sales.services; elsewhere None."""
    parts = module.split(".")
    if parts[0] != "sales" or len(parts) == 1:
        return None
    return ".".join(parts[:2])


def test_relative_imports_are_read_as_the_modules_they_name(tmp_path):
    """`from ..services import x` in sales/gate/ops.py is sales.services: an import against
    the layers written relatively is caught like an absolute one."""
    source = tmp_path / "ops.py"
    source.write_text("def lazy():\n    from ..services import gates_preload\n"
                      "    from . import keys\n    from .. import selectors\n")
    assert {"sales.services", "sales.gate.keys", "sales.selectors"} <= _imports(
        source, "sales.gate.ops")


def test_imports_made_through_importlib_are_read_like_import_statements(tmp_path):
    """`importlib.import_module("sales.services")` in core is the same upward dependency as
    `from sales import services`: a string-literal name given to import_module, __import__
    or Django's import_string (its module part) is read as an import."""
    source = tmp_path / "probe.py"
    source.write_text("import importlib\n"
                      "from django.utils.module_loading import import_string\n"
                      "def lazy(name):\n"
                      "    importlib.import_module('sales.services')\n"
                      "    __import__('antiscalper.mirror')\n"
                      "    import_string('shop.web.error_page')\n"
                      "    importlib.import_module('.keys', 'sales.gate')\n"
                      "    importlib.import_module('..ops', package=__package__)\n"
                      "    importlib.import_module(name)\n")
    assert _imports(source, "sales.gate.admission") == {
        "sales.services", "antiscalper.mirror", "shop.web", "sales.gate.keys", "sales.ops"}


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


def test_the_circle_check_finds_circles_through_other_modules():
    imports = {"core.errors": {"core.http.client_ip"}, "core.http": {"shop.models"},
               "shop.models": {"core.errors"}, "shop.services": {"shop.models", "core"},
               "core": set()}
    assert _circles(imports) == [["core.errors", "core.http", "shop.models"]]


def test_no_two_project_modules_import_each_other():
    """Not even through a function-level import, which hides a circle from start-up: each
    module's imports are read wherever they are made."""
    assert _circles(IMPORTS) == []
