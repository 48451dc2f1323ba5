"""The "ops" group: anti-scalper without deleting evidence, read-only orders, no prices, no
passwords; `create_ops_user` makes least-privilege accounts in it."""

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
    expected = {f"antiscalper.{verb}_{model}" for verb in ("add", "change", "view")
                for model in ("blacklistentry", "allowlistentry", "appeal", "attemptsignal",
                              "rulesetting", "riskpolicy", "riskdecision", "ringcase")}
    expected |= {"antiscalper.export_blacklistentry", "antiscalper.import_blacklistentry",
                 "antiscalper.act_on_case"}
    expected |= {"shop.view_order", "shop.view_orderline", "shop.view_payment",
                 "shop.view_customer", "shop.view_address", "sales.view_flashsale"}
    assert perms_of(ops_group) == expected


def test_running_the_command_again_resets_the_group(ops_group):
    ops_group.permissions.clear()
    call_command("setup_ops_group", stdout=StringIO())
    assert len(perms_of(Group.objects.get(name="ops"))) == 33
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


def test_ops_cannot_delete_evidence(ops_client, customer):
    """Risk decisions, appeals, attempts and the audit log explain every block and refund."""
    from django.contrib.admin.models import LogEntry

    from antiscalper import appeals
    from antiscalper.models import Appeal, RiskDecision

    appeal, _ = appeals.appeal_submit(user_id=customer.user_id, message="please")
    decision = RiskDecision.objects.create(sale_id=1, user_id=customer.user_id,
                                           decision="block", created_at=appeal.created_at)
    for model, pk in (("appeal", appeal.pk), ("riskdecision", decision.pk)):
        assert ops_client.get(f"/admin/antiscalper/{model}/{pk}/delete/").status_code == 403
        response = ops_client.post("/admin/antiscalper/" + model + "/",
                                   {"action": "delete_selected", "_selected_action": [pk],
                                    "post": "yes"})
        assert response.status_code in (200, 302)
    assert Appeal.objects.filter(pk=appeal.pk).exists()
    assert RiskDecision.objects.filter(pk=decision.pk).exists()
    assert LogEntry.objects.exists()
    assert ops_client.get("/admin/admin/logentry/").status_code in (403, 404)


def test_create_ops_user_makes_a_staff_account_with_only_the_ops_group(db):
    from django.contrib.auth import get_user_model

    out = StringIO()
    call_command("create_ops_user", "ops-alice", "--email", "alice@example.com", stdout=out)
    user = get_user_model().objects.get(username="ops-alice")
    assert (user.is_staff, user.is_superuser, user.is_active) == (True, False, True)
    assert list(user.groups.values_list("name", flat=True)) == ["ops"]
    assert not user.user_permissions.exists()
    password = out.getvalue().split("Password (shown once): ")[1].strip()
    assert user.check_password(password)
    assert user.get_all_permissions() == perms_of(Group.objects.get(name="ops"))


def test_create_ops_user_refuses_an_existing_account_unless_reset(db, admin_user):
    from django.contrib.auth import get_user_model
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_ops_user", admin_user.username, stdout=StringIO())
    call_command("create_ops_user", admin_user.username, "--reset", stdout=StringIO())
    user = get_user_model().objects.get(pk=admin_user.pk)
    assert (user.is_staff, user.is_superuser) == (True, False)
