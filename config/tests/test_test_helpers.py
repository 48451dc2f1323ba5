"""Tests take their helpers from the fixtures and helpers modules beside them, never from
another test module: importing one hides where a helper lives, and a helper moved with its
tests would break a stranger."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("antiscalper", "config", "core", "loadtests", "sales", "shop")


def _test_imports(path: Path) -> list[str]:
    return [node.module for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module
            and node.module.rpartition(".")[2].startswith("test_")]


def test_no_test_module_imports_from_another():
    found = sorted(
        f"{path.relative_to(ROOT)} imports {module}"
        for app in APPS for path in (ROOT / app).rglob("test_*.py")
        for module in _test_imports(path))
    assert found == []
