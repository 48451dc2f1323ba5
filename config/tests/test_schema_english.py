"""The OpenAPI schema is the API's contract and speaks English like the rest of the API,
whatever the client asks: drf-spectacular's own `?lang=` and a Chinese language cookie
would otherwise describe the enums (order statuses, sale modes) in the storefront's Chinese."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import translation

from shop.models import OrderStatus


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?lang=zh-hans", "?lang=zh-hans&format=json", "?lang=xx"])
def test_the_schema_is_the_english_one_whatever_the_client_asks(client, query):
    english = client.get(f"/api/v1/schema/{query.replace('lang=zh-hans', 'lang=en')}")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    asked = client.get(f"/api/v1/schema/{query}", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert asked.status_code == english.status_code == 200
    assert asked.content == english.content
    with translation.override("zh-hans"):
        chinese = str(OrderStatus.AWAITING_PAYMENT.label)
    assert "Awaiting payment" in asked.content.decode()
    assert chinese != "Awaiting payment" and chinese not in asked.content.decode()
