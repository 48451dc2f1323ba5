"""The repository's documentation stands alone: every relative link in the README and docs/
points at a file of this repository, and nothing points outside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_contract_design_and_traffic_model_are_in_docs():
    assert {"api.md", "architecture.md", "design.md", "double11.md"} <= {
        page.name for page in PAGES}


def test_every_relative_link_of_the_docs_points_at_a_file_of_the_repository():
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if "://" in target:
                continue
            resolved = (page.parent / target).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{page.name}: {target}")
    assert broken == []


def test_the_readme_links_every_page_of_docs():
    readme = (ROOT / "README.md").read_text()
    assert [page.name for page in PAGES[1:] if f"(docs/{page.name})" not in readme] == []


def test_nothing_refers_to_docs_outside_the_repository():
    apps = ("antiscalper", "config", "core", "loadtests", "sales", "shop")
    text_files = [*PAGES, ROOT / "BENCHMARKS.md", ROOT / "Makefile",
                  *(path for app in apps for path in (ROOT / app).rglob("*.py"))]
    outside = "../" + "shared/"  # spelt in two so that this file does not find itself
    assert [str(path.relative_to(ROOT)) for path in text_files
            if outside in path.read_text()] == []


# A method and path of the contract's tables, as `GET/POST /api/v1/ops/blacklist` writes them.
OPERATION = re.compile(r"`((?:GET|POST|PATCH|PUT|DELETE)(?:/(?:GET|POST|PATCH|PUT|DELETE))*)"
                       r" (/api/v1/[^`\s]*)`")


@pytest.mark.django_db
def test_docs_api_names_every_operation_the_api_serves(anon):
    """docs/api.md is the contract: every operation the schema (and so the router) serves is
    in one of its tables."""
    schema = anon.get("/api/v1/schema/?format=json").json()
    contract = (ROOT / "docs" / "api.md").read_text()
    documented = {(method, re.sub(r"\{[a-z_]+\}", "{}", path))
                  for methods, path in OPERATION.findall(contract)
                  for method in methods.split("/")}
    served = {(method.upper(), re.sub(r"\{[a-z_]+\}", "{}", path))
              for path, operations in schema["paths"].items() for method in operations}
    assert sorted(served - documented) == []

