"""Who may call what: every API endpoint and every admin page and action, for anonymous, a
shopper, another shopper, the ops group, a staff user without the group and a superuser.

The endpoints come from the URLconf and the actions from the admin registry, so a new
endpoint or action fails here until its row says who may use it (issue 13.2).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from antiscalper import appeals
from antiscalper import services as lists
from antiscalper.models import Appeal, RingCase, RiskDecision
from sales import services as sales
from sales.models import FCode, Reminder
from shop.models import Order, OrderLine, OrderStatus
from shop.tests.fixtures import client_for

pytestmark = pytest.mark.django_db

ACTORS = ("anonymous", "shopper", "other", "ops", "staff", "superuser")
METHODS = ("get", "post", "put", "patch", "delete")

# What each endpoint asks for. PUBLIC: anyone; AUTH: any account (anonymous 401); OWN: the
# shopper's own object (anyone else 404, anonymous 401); a permission (or a tuple of them):
# staff holding it (every one; anonymous 401, everyone else without it 403).
PUBLIC, AUTH, OWN = "public", "auth", "own"
ENDPOINTS = {
    ("api/v1/auth/register", "post"): PUBLIC,
    ("api/v1/auth/token", "post"): PUBLIC,
    ("api/v1/auth/token/refresh", "post"): PUBLIC,
    ("api/v1/auth/whoami", "get"): AUTH,
    ("api/v1/me", "get"): AUTH,
    ("api/v1/me/addresses", "get"): AUTH,
    ("api/v1/me/addresses", "post"): AUTH,
    ("api/v1/me/addresses/<int:address_id>", "get"): OWN,
    ("api/v1/me/addresses/<int:address_id>", "patch"): OWN,
    ("api/v1/me/addresses/<int:address_id>", "delete"): OWN,
    ("api/v1/me/addresses/<int:address_id>/default", "post"): OWN,
    ("api/v1/me/phone/code", "post"): AUTH,
    ("api/v1/me/phone/confirm", "post"): AUTH,
    ("api/v1/products", "get"): PUBLIC,
    ("api/v1/products/<int:product_id>", "get"): PUBLIC,
    ("api/v1/orders", "get"): AUTH,
    ("api/v1/orders/<int:order_id>", "get"): OWN,
    ("api/v1/orders/<int:order_id>/pay", "post"): OWN,
    ("api/v1/orders/<int:order_id>/cancel", "post"): OWN,
    ("api/v1/sales", "get"): PUBLIC,
    ("api/v1/sales/<int:sale_id>", "get"): PUBLIC,
    ("api/v1/sales/<int:sale_id>/purchase", "post"): AUTH,
    ("api/v1/sales/<int:sale_id>/reservations", "post"): AUTH,
    ("api/v1/sales/<int:sale_id>/draw", "get"): AUTH,
    ("api/v1/sales/<int:sale_id>/reminder", "get"): AUTH,
    ("api/v1/sales/<int:sale_id>/reminder", "put"): AUTH,
    ("api/v1/sales/<int:sale_id>/reminder", "delete"): AUTH,
    ("api/v1/tickets/<str:ticket>", "get"): OWN,
    ("api/v1/ops/sales", "get"): "sales.view_flashsale",
    ("api/v1/ops/sales", "post"): "sales.add_flashsale",
    ("api/v1/ops/sales/<int:sale_id>", "patch"): "sales.change_flashsale",
    ("api/v1/ops/sales/<int:sale_id>/fcodes", "post"): "sales.add_fcode",
    ("api/v1/ops/sales/<int:sale_id>/fcodes/release", "post"): "sales.change_flashsale",
    ("api/v1/ops/sales/<int:sale_id>/draw", "post"): "sales.add_draw",
    ("api/v1/ops/sales/<int:sale_id>/report", "get"): "sales.view_flashsale",
    ("api/v1/ops/blacklist", "get"): "antiscalper.view_blacklistentry",
    ("api/v1/ops/blacklist", "post"): "antiscalper.add_blacklistentry",
    ("api/v1/ops/blacklist/<int:entry_id>", "get"): "antiscalper.view_blacklistentry",
    ("api/v1/ops/blacklist/<int:entry_id>", "delete"): "antiscalper.change_blacklistentry",
    ("api/v1/ops/flags", "get"): "antiscalper.view_riskdecision",
    ("api/v1/ops/sales/<int:sale_id>/cases", "get"): "antiscalper.view_ringcase",
    ("api/v1/ops/sales/<int:sale_id>/cases/<int:case_id>", "get"): "antiscalper.view_ringcase",
    ("api/v1/ops/sales/<int:sale_id>/cases/<int:case_id>/confirm", "post"): (
        "antiscalper.view_ringcase", "antiscalper.act_on_case",
        "antiscalper.add_blacklistentry"),
    ("api/v1/ops/sales/<int:sale_id>/cases/<int:case_id>/clear", "post"): (
        "antiscalper.view_ringcase", "antiscalper.act_on_case"),
    ("api/v1/appeals", "get"): AUTH,
    ("api/v1/appeals", "post"): AUTH,
    ("api/v1/schema/", "get"): PUBLIC,
    ("api/v1/docs/", "get"): PUBLIC,
}

# What each admin action asks for: the right its API twin asks for (sales.api.views,
# antiscalper.api) or, without a twin, the rights of the writes it makes.
ACTIONS = {
    ("flashsale", "load_gate"): {"sales.change_flashsale"},
    ("flashsale", "rebuild_gate"): {"sales.change_flashsale"},
    ("flashsale", "reconcile"): {"sales.view_flashsale"},
    ("flashsale", "issue_fcodes"): {"sales.add_fcode"},
    ("flashsale", "release_fcode_quota"): {"sales.change_flashsale"},
    ("flashsale", "run_draw"): {"sales.add_draw"},
    ("blacklistentry", "activate"): {"antiscalper.change_blacklistentry"},
    ("blacklistentry", "deactivate"): {"antiscalper.change_blacklistentry"},
    ("blacklistentry", "extend"): {"antiscalper.change_blacklistentry"},
    ("allowlistentry", "activate"): {"antiscalper.change_allowlistentry"},
    ("allowlistentry", "deactivate"): {"antiscalper.change_allowlistentry"},
    ("allowlistentry", "extend"): {"antiscalper.change_allowlistentry"},
    ("appeal", "uphold"): {"antiscalper.change_appeal", "antiscalper.add_allowlistentry",
                           "antiscalper.change_blacklistentry"},
    ("appeal", "reject"): {"antiscalper.change_appeal"},
    ("riskdecision", "confirm_and_blacklist"): {"antiscalper.change_riskdecision",
                                                "antiscalper.add_blacklistentry"},
    ("riskdecision", "false_positive_allow"): {"antiscalper.change_riskdecision",
                                               "antiscalper.add_allowlistentry"},
    ("order", "mark_shipped"): {"shop.change_order"},
    ("order", "mark_delivered"): {"shop.change_order"},
    ("order", "cancel_unpaid"): {"shop.change_order"},
    ("order", "refund"): {"shop.change_order"},
}
# Nobody deletes these in the admin, not even a superuser: evidence (decisions, appeals,
# orders, payments), the one risk policy row, simplejwt's outstanding tokens (revocation
# records: its admin refuses deletes; `flushexpiredtokens` removes the expired ones), and the
# records the stock's counters and the tickets' decisions are built on (returns, rejected
# tickets, F-codes, draws), and ring cases (why a ring's orders were cancelled, who said so).
# Nor a rule setting: deleting one would put the rule back to its code defaults without the
# confirmation and the record of the previous value that every other change of it has. Nor a
# shopper's reminder: it is the shopper's to set and cancel. Nor an address: orders ship to it,
# and a shopper's own deletion only hides it (shop.address_book).
UNDELETABLE = {"riskdecision", "appeal", "order", "payment", "riskpolicy", "outstandingtoken",
               "stockreturn", "rejectedticket", "fcode", "draw", "ringcase", "rulesetting",
               "reminder", "address"}
# What each button on an object's admin page (a POST to its own address) and each page beside
# a model's own asks for: the rights its twin among the actions asks for (ACTIONS).
BUTTONS = {
    ("antiscalper/riskdecision/{decision}/confirm/", "post"): (
        "antiscalper.change_riskdecision", "antiscalper.add_blacklistentry"),
    ("antiscalper/riskdecision/{decision}/clear/", "post"): (
        "antiscalper.change_riskdecision", "antiscalper.add_allowlistentry"),
    ("antiscalper/appeal/{appeal}/uphold/", "post"): (
        "antiscalper.change_appeal", "antiscalper.add_allowlistentry",
        "antiscalper.change_blacklistentry"),
    ("antiscalper/appeal/{appeal}/reject/", "post"): ("antiscalper.change_appeal",),
    ("sales/flashsale/{sale}/dashboard/", "get"): ("sales.view_flashsale",),
}


def api_endpoints() -> set[tuple[str, str]]:
    """(route, method) of every API view in the URLconf."""
    found = set()

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                route = prefix + str(entry.pattern)
                view = getattr(entry.callback, "view_class", None) or getattr(
                    entry.callback, "cls", None)
                if route.startswith("api/") and view is not None:
                    found.update((route, m) for m in METHODS if hasattr(view, m))

    walk(get_resolver().url_patterns, "")
    return found


@pytest.fixture
def world(make_customer, sku):
    """The six actors and one object of each kind the routes name."""
    call_command("setup_ops_group", stdout=StringIO())
    users = get_user_model().objects
    shopper, other = make_customer(), make_customer()
    ops = users.create_user("ops-bob", password="ops-Long-password-1", is_staff=True)
    ops.groups.add(Group.objects.get(name="ops"))
    now = timezone.now()
    sale = sales.sale_create(sku=sku, title="Mi 6", price=Decimal("1999.00"), stock=5,
                             per_user_limit=1, starts_at=now - timedelta(minutes=1),
                             ends_at=now + timedelta(hours=1))
    sales.gate_load(sale_id=sale.pk)
    ticket = client_for(shopper.user).post(f"/api/v1/sales/{sale.pk}/purchase", {},
                                           format="json").json()["ticket"]
    order = Order.objects.create(user=shopper.user, status=OrderStatus.AWAITING_PAYMENT,
                                 number="M0000000001", total=sku.price, created_at=now,
                                 payment_due_at=now + timedelta(minutes=30))
    OrderLine.objects.create(order=order, sku=sku, quantity=1, unit_price=sku.price)
    entry, _ = lists.blacklist_add(kind="ip", value="10.66.0.1")
    appeals.appeal_submit(user_id=shopper.user_id, message="please")
    RiskDecision.objects.create(sale_id=sale.pk, user_id=other.user_id, decision="block",
                                created_at=now)
    case = RingCase.objects.create(sale_id=sale.pk, members=[other.user_id], created_at=now,
                                   updated_at=now)
    Reminder.objects.create(sale=sale, user=other.user)  # (set before the sale opened)
    return {
        "actors": {"anonymous": None, "shopper": shopper.user, "other": other.user,
                   "ops": ops,
                   "staff": users.create_user("staff-eve", password="x-Long-pass-1",
                                              is_staff=True),
                   "superuser": users.create_superuser("root", password="x-Long-pass-1")},
        "args": {"sale_id": sale.pk, "order_id": order.pk, "product_id": sku.product_id,
                 "entry_id": entry.pk, "ticket": ticket, "case_id": case.pk,
                 "address_id": shopper.addresses.get().pk},
    }


def expected(rule: str, actor: str, user) -> set[int] | None:
    """The statuses `actor` must get; None: let in (no 401 or 403; a 404 only where a staff
    account has no shopper profile or the object is someone else's)."""
    if rule == PUBLIC:
        return None
    if actor == "anonymous":
        return {401}
    if rule == AUTH:
        return None
    if rule == OWN:
        return None if actor == "shopper" else {404}
    return None if user.has_perms((rule,) if isinstance(rule, str) else rule) else {403}


def test_every_api_endpoint_has_a_row_and_every_row_an_endpoint():
    assert api_endpoints() == set(ENDPOINTS)


@pytest.mark.parametrize(("route", "method"), sorted(ENDPOINTS))
def test_each_actor_gets_what_the_endpoint_allows(world, route, method):
    path = "/" + re.sub(r"<\w+:(\w+)>", lambda m: str(world["args"][m.group(1)]), route)
    for actor in ACTORS:
        user = world["actors"][actor]
        api = client_for(user) if user else APIClient()
        response = getattr(api, method)(path, {}, format="json")
        want = expected(ENDPOINTS[(route, method)], actor, user)
        if want is None:
            shut = (401, 403) if actor in ("ops", "staff", "superuser") else (401, 403, 404)
            assert response.status_code not in shut, (actor, response.content)
            assert response.status_code < 500, (actor, response.content)
        else:
            assert response.status_code in want, (actor, response.status_code)
            assert set(response.json()) == {"error"}


def _admin_request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_every_admin_action_declares_a_permission_and_has_a_row():
    found = set()
    for model, model_admin in admin.site._registry.items():
        for action in model_admin.actions or ():
            assert getattr(action, "allowed_permissions", None), (model, action.__name__)
            found.add((model._meta.model_name, action.__name__))
    assert found == set(ACTIONS)


@pytest.mark.parametrize("actor", [a for a in ACTORS if a != "anonymous"])
def test_each_actor_is_offered_exactly_the_actions_it_holds_the_rights_for(world, actor):
    user = world["actors"][actor]
    for model, model_admin in admin.site._registry.items():
        offered = set(model_admin.get_actions(_admin_request(user))) - {"delete_selected"}
        name = model._meta.model_name
        want = {action for (on, action), perms in ACTIONS.items()
                if on == name and user.is_staff and user.has_perms(perms)}
        assert offered == want, (actor, name)


@pytest.mark.parametrize("actor", ACTORS)
def test_each_actor_sees_exactly_the_admin_pages_it_holds_the_rights_for(world, actor):
    user = world["actors"][actor]
    client = Client()
    if user:
        client.force_login(user)
    for model in admin.site._registry:
        opts = model._meta
        base = f"/admin/{opts.app_label}/{opts.model_name}/"
        may_view = bool(user and user.is_staff and (
            user.has_perm(f"{opts.app_label}.view_{opts.model_name}")
            or user.has_perm(f"{opts.app_label}.change_{opts.model_name}")))
        listing = client.get(base)
        if not (user and user.is_staff):
            assert listing.status_code == 302 and "/admin/login/" in listing["Location"]
            continue
        assert listing.status_code == (200 if may_view else 403), (actor, base)
        obj = model.objects.first()
        if obj is None:
            continue
        form = client.get(f"{base}{obj.pk}/change/")
        assert form.status_code == (200 if may_view else 403), (actor, base)
        may_change = user.has_perm(f"{opts.app_label}.change_{opts.model_name}")
        if may_view and not may_change:
            assert 'name="_save"' not in form.content.decode(), (actor, base)
        may_delete = (user.has_perm(f"{opts.app_label}.delete_{opts.model_name}")
                      and opts.model_name not in UNDELETABLE)
        assert client.get(f"{base}{obj.pk}/delete/").status_code == (
            200 if may_delete else 403), (actor, base)


def test_a_view_only_user_cannot_issue_fcodes_through_the_admin(world, make_customer, sku):
    """The confirmed hole: view_flashsale was enough to issue codes and see them in plain."""
    make_customer(fan_level=3)
    now = timezone.now()
    sale = sales.sale_create(sku=sku, title="Mi 6 F-codes", price=Decimal("1999.00"), stock=5,
                             fcode_quota=2, per_user_limit=1,
                             starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2))
    client = Client()
    client.force_login(world["actors"]["ops"])
    response = client.post("/admin/sales/flashsale/", {
        "action": "issue_fcodes", "_selected_action": [sale.pk]}, follow=True)
    assert response.status_code == 200
    assert not FCode.objects.exists()
    assert "shown once" not in response.content.decode()


@pytest.mark.parametrize(("route", "method"), sorted(BUTTONS))
def test_each_actor_may_press_exactly_the_buttons_it_holds_the_rights_for(world, route, method):
    """In the actors' order: the first one let in answers, the later ones are told it was
    answered already (a second click is harmless); everyone else is refused."""
    ids = {"decision": RiskDecision.objects.get().pk, "appeal": Appeal.objects.get().pk,
           "sale": world["args"]["sale_id"]}
    path = "/admin/" + route.format(**ids)
    for actor in ACTORS:
        user = world["actors"][actor]
        client = Client()
        if user:
            client.force_login(user)
        response = getattr(client, method)(path)
        if not (user and user.is_staff):
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
        elif user.has_perms(BUTTONS[(route, method)]):
            assert response.status_code in (200, 302), (actor, path)
            assert "/admin/login/" not in response.get("Location", ""), (actor, path)
        else:
            assert response.status_code == 403, (actor, path)
