"""The address book over HTTP (docs/api.md, "Addresses"): v1 clients keep working, one's
own addresses are read, edited, deleted and made the default, another shopper's are 404,
and hostile bodies get the envelope naming the field, never a 500."""

from __future__ import annotations

import pytest

from core.tests.helpers import assert_envelope
from shop.models import Address, Order
from shop.services import order_create
from shop.tests.fixtures import client_for

pytestmark = pytest.mark.django_db

V1 = {"recipient": "Lei Jun", "phone": "13800138000", "line1": "68 Qinghe Middle Street",
      "city": "Beijing", "postcode": "100085"}  # part 1's body, nothing more
FULL = {**V1, "province": "北京市", "district": "海淀区", "line1": "清河中街68号"}


def _add(api, body=None) -> dict:
    response = api.post("/api/v1/me/addresses", body or FULL, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_v1_client_posting_five_fields_gets_its_address_with_the_new_fields_blank(
        make_customer):
    api = client_for(make_customer(with_address=False).user)
    created = _add(api, V1)
    assert {k: created[k] for k in V1} == V1
    assert (created["province"], created["district"], created["is_default"]) == ("", "", True)


def test_a_shopper_reads_edits_and_deletes_an_address(make_customer):
    api = client_for(make_customer(with_address=False).user)
    created = _add(api)
    url = f"/api/v1/me/addresses/{created['id']}"
    assert api.get(url).json() == created
    edited = api.patch(url, {"district": "昌平区", "line1": "回龙观西大街"}, format="json")
    assert edited.status_code == 200
    body = edited.json()
    assert body["id"] != created["id"] and body["is_default"]
    assert (body["district"], body["line1"], body["recipient"]) == ("昌平区", "回龙观西大街",
                                                                   FULL["recipient"])
    assert api.get(url).json() == body  # the old id reaches the newest version
    assert [a["id"] for a in api.get("/api/v1/me/addresses").json()] == [body["id"]]
    assert api.delete(f"/api/v1/me/addresses/{body['id']}").status_code == 204
    assert_envelope(api.get(url), 404, "not_found")
    assert_envelope(api.get(f"/api/v1/me/addresses/{body['id']}"), 404, "not_found")
    assert_envelope(api.delete(f"/api/v1/me/addresses/{body['id']}"), 404, "not_found")
    assert api.get("/api/v1/me/addresses").json() == []


def test_making_an_address_the_default_moves_the_mark(make_customer):
    api = client_for(make_customer(with_address=False).user)
    first, second = _add(api), _add(api, {**FULL, "line1": "安宁庄路小米科技园"})
    assert (first["is_default"], second["is_default"]) == (True, False)
    chosen = api.post(f"/api/v1/me/addresses/{second['id']}/default")
    assert chosen.status_code == 200 and chosen.json()["is_default"]
    listed = api.get("/api/v1/me/addresses").json()
    assert [(a["id"], a["is_default"]) for a in listed] == [(second["id"], True),
                                                           (first["id"], False)]
    # is_default in a PATCH is read-only: it neither sets nor clears the default
    api.patch(f"/api/v1/me/addresses/{first['id']}", {"is_default": True}, format="json")
    assert api.get(f"/api/v1/me/addresses/{first['id']}").json()["is_default"] is False


def test_deleting_the_default_passes_it_to_the_newest_remaining(make_customer):
    api = client_for(make_customer(with_address=False).user)
    first = _add(api)
    _add(api, {**FULL, "line1": "二号"})
    newest = _add(api, {**FULL, "line1": "三号"})
    api.delete(f"/api/v1/me/addresses/{first['id']}")
    assert api.get(f"/api/v1/me/addresses/{newest['id']}").json()["is_default"] is True


def test_another_shoppers_address_is_404_for_every_method_and_stays_as_it_was(make_customer):
    owner, stranger = make_customer(with_address=False), make_customer(with_address=False)
    theirs = _add(client_for(owner.user))
    api = client_for(stranger.user)
    url = f"/api/v1/me/addresses/{theirs['id']}"
    assert_envelope(api.get(url), 404, "not_found")
    assert_envelope(api.patch(url, {"line1": "mine now"}, format="json"), 404, "not_found")
    assert_envelope(api.delete(url), 404, "not_found")
    assert_envelope(api.post(f"{url}/default"), 404, "not_found")
    assert_envelope(api.get("/api/v1/me/addresses/999999999"), 404, "not_found")  # none: same
    kept = Address.objects.get(pk=theirs["id"])
    assert (kept.line1, kept.deleted_at, kept.is_default) == (FULL["line1"], None, True)


def test_an_order_keeps_its_address_through_an_edit_and_a_deletion(make_customer, sku):
    customer = make_customer(with_address=False)
    api = client_for(customer.user)
    created = _add(api)
    order = order_create(user_id=customer.user_id, lines=[(sku.pk, 1)],
                         address_id=created["id"])
    edited = api.patch(f"/api/v1/me/addresses/{created['id']}", {"line1": "别处"},
                       format="json").json()
    api.delete(f"/api/v1/me/addresses/{edited['id']}")
    assert api.get(f"/api/v1/orders/{order.pk}").json()["address"] == created["id"]
    assert Order.objects.get(pk=order.pk).address.line1 == FULL["line1"]


@pytest.mark.parametrize("body, field", [
    ({"line1": "x" * 100_000}, "line1"),
    ({"province": "省" * 41}, "province"),
    ({"district": None}, "district"),
    ({"city": ["Beijing"]}, "city"),
    ({"recipient": {"name": "x"}}, "recipient"),
    ({"phone": "call me"}, "phone"),
    ({"postcode": "a\x00b"}, "postcode"),
    ({"line1": ""}, "line1"),
    ({"line1": "\ufdfa" * 20}, "line1"),
])
def test_a_hostile_edit_is_400_naming_the_field_and_changes_nothing(make_customer, body, field):
    api = client_for(make_customer(with_address=False).user)
    created = _add(api)
    error = assert_envelope(api.patch(f"/api/v1/me/addresses/{created['id']}", body,
                                      format="json"), 400, "invalid")
    assert field in error["details"]
    assert api.get("/api/v1/me/addresses").json() == [created]


@pytest.mark.parametrize("body", ["[]", "null", '"x"', "{", '{"line1": 5}' * 2, "1e999"])
def test_a_body_that_is_no_object_is_400(make_customer, body):
    api = client_for(make_customer(with_address=False).user)
    created = _add(api)
    response = api.patch(f"/api/v1/me/addresses/{created['id']}", body,
                         content_type="application/json")
    assert_envelope(response, 400, "invalid")
    assert api.get("/api/v1/me/addresses").json() == [created]


@pytest.mark.parametrize("path", ["/api/v1/me/addresses/99999999999999999999999",
                                  "/api/v1/me/addresses/9223372036854775808/default",
                                  "/api/v1/me/addresses/0"])
def test_an_id_no_database_holds_is_404(make_customer, path):
    api = client_for(make_customer(with_address=False).user)
    method = api.post if path.endswith("default") else api.get
    assert_envelope(method(path), 404, "not_found")
    assert_envelope(api.delete(path.removesuffix("/default")), 404, "not_found")


def test_without_a_token_every_address_operation_is_401(anon, customer):
    address = customer.addresses.first()
    url = f"/api/v1/me/addresses/{address.pk}"
    for response in (anon.get(url), anon.patch(url, {"line1": "x"}, format="json"),
                     anon.delete(url), anon.post(f"{url}/default")):
        assert_envelope(response, 401, "unauthenticated")
    address.refresh_from_db()
    assert address.deleted_at is None
