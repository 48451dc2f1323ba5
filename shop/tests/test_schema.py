"""The OpenAPI schema describes every route of the store and validates cleanly."""

from __future__ import annotations

from io import StringIO

import yaml
from django.core.management import call_command

from shop.urls import urlpatterns


def test_the_schema_is_served_and_lists_every_shop_route(anon, db):
    response = anon.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    paths = set(response.json()["paths"])
    for pattern in urlpatterns:
        route = str(pattern.pattern).replace("<int:", "{").replace(">", "}")
        assert f"/api/v1/{route}" in paths


def test_the_schema_documents_the_idempotency_key_on_pay(anon, db):
    schema = anon.get("/api/v1/schema/?format=json").json()
    pay = schema["paths"]["/api/v1/orders/{order_id}/pay"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in pay["parameters"] if p["in"] == "header"}


def test_the_swagger_ui_is_served(anon, db):
    assert anon.get("/api/v1/docs/").status_code == 200


def test_the_schema_generates_without_warnings_and_validates(db, tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target),
                 stdout=StringIO(), stderr=StringIO())
    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/orders" in schema["paths"]
