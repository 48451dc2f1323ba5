"""The OpenAPI schema describes the anti-scalper routes and validates cleanly."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.urls("antiscalper.tests.urls")


def test_the_schema_lists_the_blacklist_and_appeal_routes_without_warnings(db, tmp_path,
                                                                            settings):
    settings.ROOT_URLCONF = "antiscalper.tests.urls"
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target),
                 stdout=StringIO(), stderr=StringIO())
    paths = yaml.safe_load(target.read_text())["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/ops/blacklist"])
    assert {"get", "delete"} <= set(paths["/api/v1/ops/blacklist/{entry_id}"])
    assert {"get", "post"} <= set(paths["/api/v1/appeals"])
