"""The ops blacklist endpoints: staff with the model permission only, envelope errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from antiscalper import services
from antiscalper.models import BlacklistEntry, Source
from antiscalper.tests.helpers import error_of, mirrored
from shop.tests.fixtures import client_for

pytestmark = pytest.mark.urls("antiscalper.tests.urls")
URL = "/api/v1/ops/blacklist"
ENTRY_FIELDS = {"id", "kind", "value", "reason", "source", "is_active", "expires_at",
                "created_by", "created_at"}


def test_ops_list_entries_newest_first_with_a_total(ops_api):
    for n in range(3):
        services.blacklist_add(kind="ip", value=f"10.0.0.{n}")
    response = ops_api.get(f"{URL}?limit=2")
    assert response.status_code == 200
    assert response["X-Total-Count"] == "3"
    rows = response.json()
    assert [row["value"] for row in rows] == ["10.0.0.2", "10.0.0.1"]
    assert set(rows[0]) == ENTRY_FIELDS


@pytest.mark.parametrize(("query", "values"), [
    ("kind=device", ["d1"]),
    ("active=false", ["10.0.0.9"]),
    ("active=true&kind=ip", []),
    ("q=farm", ["d1"]),
])
def test_ops_filter_the_list(ops_api, query, values):
    services.blacklist_add(kind="device", value="d1", reason="bot farm")
    gone, _ = services.blacklist_add(kind="ip", value="10.0.0.9")
    services.blacklist_deactivate(entry_id=gone.pk)
    assert [row["value"] for row in ops_api.get(f"{URL}?{query}").json()] == values


def test_ops_block_an_identity_and_the_gate_sees_it(ops_api, ops_user, on_commit):
    until = timezone.now() + timedelta(days=7)
    with on_commit():
        response = ops_api.post(URL, {"kind": "phone", "value": "138 0013 8000",
                                      "reason": "reseller", "expires_at": until.isoformat()},
                                format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["value"], body["source"], body["created_by"]) == (
        "phone", "13800138000", Source.MANUAL, ops_user.pk)
    assert mirrored("phone") == {"13800138000"}
    assert LogEntry.objects.filter(user=ops_user, object_id=str(body["id"])).exists()


def test_blocking_a_blocked_identity_answers_200_with_the_same_entry(ops_api):
    first = ops_api.post(URL, {"kind": "ip", "value": "10.0.0.1"}, format="json").json()
    again = ops_api.post(URL, {"kind": "ip", "value": "10.0.0.1", "reason": "still at it"},
                         format="json")
    assert (again.status_code, again.json()["id"], again.json()["reason"]) == (
        200, first["id"], "still at it")


@pytest.mark.parametrize(("body", "fields"), [
    ({}, {"kind", "value"}),
    ({"kind": "email", "value": "x@example.com"}, {"kind"}),
    ({"kind": "ip", "value": "10.0.0.256"}, {"value"}),
    ({"kind": "account", "value": "no-such-user"}, {"value"}),
    ({"kind": "ip", "value": "10.0.0.1", "expires_at": "tomorrow"}, {"expires_at"}),
    ({"kind": "ip", "value": "10.0.0.1", "expires_at": "2001-01-01T00:00:00Z"},
     {"expires_at"}),
    ({"kind": "ip", "value": "10.0.0.1", "reason": "x" * 201}, {"reason"}),
])
def test_bad_bodies_are_400_naming_the_fields(ops_api, body, fields):
    response = ops_api.post(URL, body, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], set(error["details"])) == ("invalid", fields)
    assert not BlacklistEntry.objects.exists()


def test_malformed_json_is_400(ops_api):
    response = ops_api.post(URL, "{not json", content_type="application/json")
    assert (response.status_code, error_of(response)["code"]) == (400, "invalid")


def test_deleting_deactivates_the_entry_and_frees_the_identity(ops_api, ops_user, on_commit):
    entry, _ = services.blacklist_add(kind="account", value="42")
    services.mirror_rebuild()
    with on_commit():
        response = ops_api.delete(f"{URL}/{entry.pk}")
    assert response.status_code == 204
    entry.refresh_from_db()
    assert entry.is_active is False
    assert mirrored("account") == set()
    assert ops_api.delete(f"{URL}/{entry.pk}").status_code == 204
    assert ops_api.get(f"{URL}/{entry.pk}").json()["is_active"] is False


def test_an_unknown_entry_is_404(ops_api):
    for response in (ops_api.delete(f"{URL}/999999"), ops_api.get(f"{URL}/999999")):
        assert (response.status_code, error_of(response)["code"]) == (404, "not_found")


def test_without_a_token_the_endpoints_are_401(anon):
    for response in (anon.get(URL), anon.post(URL, {}, format="json"),
                     anon.delete(f"{URL}/1")):
        assert (response.status_code, error_of(response)["code"]) == (401, "unauthenticated")


def test_shoppers_are_403_on_every_ops_endpoint(api):
    entry, _ = services.blacklist_add(kind="ip", value="10.0.0.1")
    for response in (api.get(URL), api.post(URL, {"kind": "ip", "value": "1.2.3.4"},
                                             format="json"),
                     api.delete(f"{URL}/{entry.pk}"), api.get(f"{URL}/{entry.pk}")):
        assert (response.status_code, error_of(response)["code"]) == (403, "forbidden")
    entry.refresh_from_db()
    assert entry.is_active


def test_staff_need_the_matching_permission_for_each_method(make_staff):
    viewer = client_for(make_staff("antiscalper.view_blacklistentry"))
    entry, _ = services.blacklist_add(kind="ip", value="10.0.0.1")
    assert viewer.get(URL).status_code == 200
    assert viewer.post(URL, {"kind": "ip", "value": "1.2.3.4"}, format="json") \
        .status_code == 403
    assert viewer.delete(f"{URL}/{entry.pk}").status_code == 403
    adder = client_for(make_staff("antiscalper.add_blacklistentry"))
    assert adder.get(URL).status_code == 403
    assert adder.post(URL, {"kind": "ip", "value": "1.2.3.4"}, format="json") \
        .status_code == 201


def test_a_non_staff_user_with_the_permission_is_still_403(make_staff):
    user = make_staff("antiscalper.view_blacklistentry")
    user.is_staff = False
    user.save()
    assert client_for(user).get(URL).status_code == 403


def test_a_superuser_can_use_every_ops_endpoint(admin_user):
    superuser = client_for(admin_user)
    created = superuser.post(URL, {"kind": "device", "value": "d1"}, format="json")
    assert created.status_code == 201
    assert superuser.delete(f"{URL}/{created.json()['id']}").status_code == 204
