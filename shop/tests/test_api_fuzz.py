"""Schemathesis over the whole OpenAPI schema: no operation answers a 5xx to any input.

Bounded so that it runs inside `make test`: a few examples per operation, a fixed seed
(derandomized), no shrinking deadline. A shopper's token drives the store's routes and a
superuser's token the ops routes, against the real database and Redis of the run.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from config.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", application)

EXAMPLES = 10
LOOSE_LIMITS = {"RATE_REGISTER": "100000/m", "RATE_TOKEN": "100000/m",
                "RATE_RESERVATION": "100000/m", "PURCHASE_RATE_LIMIT": 100000}


@pytest.fixture
def tokens(make_customer, sku):
    """Bearer headers of a shopper and of a superuser, and a live sale to act on."""
    from sales import services as sale_services

    shopper = make_customer()
    ops = get_user_model().objects.create_superuser("fuzz-ops", password="ops-password-123")
    now = timezone.now()
    sale = sale_services.sale_create(
        sku=sku, title="fuzz", price=Decimal("10.00"), stock=50, per_user_limit=2,
        starts_at=now - timedelta(seconds=1), ends_at=now + timedelta(hours=1))
    sale_services.gate_load(sale_id=sale.pk)

    def bearer(user):
        return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}

    return {"shopper": bearer(shopper.user), "ops": bearer(ops)}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@override_settings(**LOOSE_LIMITS)
@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error(case, tokens):
    who = "ops" if "/ops/" in case.path else "shopper"
    response = case.call(headers=tokens[who])
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
        f"\n{case.as_curl_command()}")
    # Whatever the status, it is one the schema documents, with the body it documents.
    case.validate_response(response, checks=[status_code_conformance,
                                             response_schema_conformance])
