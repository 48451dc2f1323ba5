"""Tests take their helpers from the fixtures and helpers modules beside them, never from
another test module: importing one hides where a helper lives, and a helper moved with its
tests would break a stranger."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("antiscalper", "config", "core", "loadtests", "sales", "shop")


def _is_test_module(name: str) -> bool:
    return name.rpartition(".")[2].startswith("test_")


def _test_imports(path: Path) -> list[str]:
    """The test modules `path` imports, however it is spelt: `from x.test_y import h`,
    `from x import test_y`, `from . import test_y` and `import x.test_y`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if _is_test_module(module):
                found.append(module)
            else:
                dot = "." if node.module else ""  # `from . import test_y` is .test_y
                found.extend(f"{module}{dot}{alias.name}"
                             for alias in node.names if _is_test_module(alias.name))
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names if _is_test_module(alias.name))
    return found


def test_every_spelling_of_importing_a_test_module_is_seen(tmp_path):
    source = tmp_path / "test_probe.py"
    source.write_text("from config.tests import test_layers\nimport sales.tests.test_rush\n"
                      "from shop.tests.test_orders import helper\nfrom . import test_other\n"
                      "from .test_more import thing\nfrom sales.tests import rush_harness\n"
                      "import pytest\n")
    assert _test_imports(source) == [
        "config.tests.test_layers", "sales.tests.test_rush", "shop.tests.test_orders",
        ".test_other", ".test_more"]


def test_no_test_module_imports_from_another():
    """Nor a helpers or fixtures module (or a conftest): a test module is imported by none."""
    found = sorted(
        f"{path.relative_to(ROOT)} imports {module}"
        for app in APPS for path in (ROOT / app).rglob("*.py")
        if "tests" in path.relative_to(ROOT).parts or path.name == "conftest.py"
        for module in _test_imports(path))
    assert found == []
