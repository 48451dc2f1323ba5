"""The "ops" group: all of anti-scalper, read-only orders, no prices, no passwords."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from antiscalper import services
from shop.services import order_create


@pytest.fixture
def ops_group(db) -> Group:
    call_command("setup_ops_group", stdout=StringIO())
    return Group.objects.get(name="ops")


@pytest.fixture
def ops_client(client, make_staff, ops_group):
    user = make_staff()
    user.groups.add(ops_group)
    client.force_login(user)
    return client


def perms_of(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")}


def test_the_group_holds_exactly_the_permissions_ops_need(ops_group):
    expected = {f"antiscalper.{verb}_{model}" for verb in ("add", "change", "delete", "view")
                for model in ("blacklistentry", "allowlistentry", "appeal", "attemptsignal",
                              "rulesetting", "riskpolicy", "riskdecision")}
    expected |= {"antiscalper.export_blacklistentry", "antiscalper.import_blacklistentry"}
    expected |= {"shop.view_order", "shop.view_orderline", "shop.view_payment",
                 "shop.view_customer", "shop.view_address", "sales.view_flashsale"}
    assert perms_of(ops_group) == expected


def test_running_the_command_again_resets_the_group(ops_group):
    ops_group.permissions.clear()
    call_command("setup_ops_group", stdout=StringIO())
    assert len(perms_of(Group.objects.get(name="ops"))) == 36
    assert Group.objects.filter(name="ops").count() == 1


def test_ops_can_open_the_blacklist_and_appeals_and_read_orders(ops_client):
    services.blacklist_add(kind="ip", value="10.2.2.2")
    response = ops_client.get("/admin/antiscalper/blacklistentry/")
    assert response.status_code == 200 and "10.2.2.2" in response.content.decode()
    assert ops_client.get("/admin/antiscalper/blacklistentry/add/").status_code == 200
    assert ops_client.get("/admin/antiscalper/appeal/").status_code == 200
    assert ops_client.get("/admin/shop/order/").status_code == 200
    assert ops_client.get("/admin/sales/flashsale/").status_code == 200


def test_ops_cannot_open_the_user_admin(ops_client, customer):
    assert ops_client.get("/admin/auth/user/").status_code == 403
    assert ops_client.get(f"/admin/auth/user/{customer.user_id}/change/").status_code == 403
    assert ops_client.get(f"/admin/auth/user/{customer.user_id}/password/").status_code == 403


def test_ops_cannot_change_a_sku_price(ops_client, sku):
    url = f"/admin/shop/sku/{sku.pk}/change/"
    assert ops_client.get(url).status_code == 403
    response = ops_client.post(url, {"product": sku.product_id, "code": sku.code,
                                     "name": sku.name, "price": "1.00", "is_active": "on"})
    assert response.status_code == 403
    sku.refresh_from_db()
    assert str(sku.price) == "2499.00"


def test_ops_cannot_change_an_order(ops_client, customer, sku):
    order = order_create(user_id=customer.user_id, lines=[(sku.pk, 1)])
    page = ops_client.get(f"/admin/shop/order/{order.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
