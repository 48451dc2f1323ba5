"""The sale form by mode: it knows which terms each mode has (the page hides the others, and
keeps their values), and the services refuse a deposit's terms on a sale of another mode,
on the field, in the admin and in the API alike."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from sales.models import MODE_TERMS, FlashSale
from sales.tests.sale_forms import sale_form, split
from shop.tests.fixtures import client_for

ADD = "/admin/sales/flashsale/add/"


@pytest.fixture
def ops(client, superuser):
    client.force_login(superuser)
    return client


def deposit_terms(**extra) -> dict:
    now = timezone.now()
    opens, closes = split(now + timedelta(hours=3)), split(now + timedelta(hours=5))
    return {"mode": "deposit", "deposit": "100.00", "deposit_expansion": "50.00",
            "balance_opens_at_0": opens[0], "balance_opens_at_1": opens[1],
            "balance_closes_at_0": closes[0], "balance_closes_at_1": closes[1], **extra}


def test_the_form_carries_each_modes_terms_for_the_page_to_show(ops):
    html = ops.get(ADD).content.decode()
    shown = re.search(r'<script id="sale-mode-terms" type="application/json">(.*?)</script>',
                      html).group(1)
    assert json.loads(shown) == {mode: list(terms) for mode, terms in MODE_TERMS.items()}
    assert "sales/admin_modes.js" in html
    assert "deposit" in MODE_TERMS["deposit"] and "deposit" not in MODE_TERMS["open"]
    assert "form-row field-deposit" in html and "form-row field-right_window" in html


def test_a_deposit_pre_sale_is_scheduled_with_its_terms(ops, sku):
    response = ops.post(ADD, sale_form(sku, **deposit_terms()))
    assert response.status_code == 302
    sale = FlashSale.objects.get()
    assert (sale.mode, sale.deposit, sale.deposit_expansion) == ("deposit", Decimal("100.00"),
                                                                 Decimal("50.00"))


def test_an_open_rush_with_a_deposit_left_in_the_form_is_refused_on_the_field(ops, sku):
    response = ops.post(ADD, sale_form(sku, **deposit_terms(mode="open")))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Only a deposit pre-sale has a deposit" in html
    assert 'id="id_deposit_error"' in html and 'id="id_balance_opens_at_error"' in html
    assert 'value="100.00"' in html  # the value is shown back, not dropped
    assert not FlashSale.objects.exists()


def test_turning_a_deposit_pre_sale_into_an_open_rush_must_clear_the_deposit(ops, sku):
    ops.post(ADD, sale_form(sku, **deposit_terms()))
    sale = FlashSale.objects.get()
    url = f"/admin/sales/flashsale/{sale.pk}/change/"
    kept = sale_form(sku, **deposit_terms(mode="open"))
    assert ops.post(url, kept).status_code == 200
    assert FlashSale.objects.get().mode == "deposit"
    cleared = {**kept, "deposit": "", "balance_opens_at_0": "", "balance_opens_at_1": "",
               "balance_closes_at_0": "", "balance_closes_at_1": ""}
    assert ops.post(url, cleared).status_code == 302
    sale.refresh_from_db()
    assert (sale.mode, sale.deposit, sale.balance_opens_at) == ("open", None, None)


def test_editing_a_draw_keeps_the_terms_its_form_hides(ops, sku):
    now = timezone.now()
    r_opens, r_closes = split(now - timedelta(hours=1)), split(now + timedelta(minutes=30))
    draw = sale_form(sku, mode="draw", right_window="00:10:00", stock=3,
                     reservation_opens_at_0=r_opens[0], reservation_opens_at_1=r_opens[1],
                     reservation_closes_at_0=r_closes[0], reservation_closes_at_1=r_closes[1])
    assert ops.post(ADD, draw).status_code == 302
    sale = FlashSale.objects.get()
    assert sale.fcode_quota == 3  # every unit is a winner's right
    response = ops.post(f"/admin/sales/flashsale/{sale.pk}/change/",
                        {**draw, "title": "Mi 9 draw", "fcode_quota": 3})
    assert response.status_code == 302
    sale.refresh_from_db()
    assert (sale.title, sale.right_window, sale.fcode_quota) == (
        "Mi 9 draw", timedelta(minutes=10), 3)


def test_the_api_refuses_a_deposit_on_an_open_rush_naming_the_field(superuser, make_sale):
    sale = make_sale(load=False, starts_in=3600)
    response = client_for(superuser).patch(f"/api/v1/ops/sales/{sale.pk}",
                                           {"deposit": "100.00"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "deposit" in error["details"]
    sale.refresh_from_db()
    assert sale.deposit is None
