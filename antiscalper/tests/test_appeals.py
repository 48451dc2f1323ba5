"""Appeals: a shopper asks to be cleared; upholding allowlists the identity at the gate."""

from __future__ import annotations

import time

import pytest
from django.contrib.admin.models import LogEntry

from antiscalper import appeals, services
from antiscalper.models import AllowlistEntry, Appeal, BlacklistEntry
from antiscalper.tests.helpers import error_of, mirrored
from antiscalper.tests.risk_helpers import T0, attempt, judge, pay_with

pytestmark = pytest.mark.urls("antiscalper.tests.urls")
URL = "/api/v1/appeals"


@pytest.fixture
def blocked(customer):
    """`customer`'s account on the blacklist, mirrored."""
    entry, _ = services.blacklist_add(kind="account", value=str(customer.user_id),
                                      reason="bought 30 units in 2 seconds")
    services.mirror_rebuild()
    return entry


def test_a_shopper_appeals_for_their_own_account_by_default(api, customer, blocked):
    response = api.post(URL, {"message": "I am a Lv3 fan, it was my family's orders."},
                        format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["kind"], body["value"], body["status"]) == ("account", str(customer.user_id),
                                                             "open")
    appeal = Appeal.objects.get(pk=body["id"])
    assert (appeal.user_id, appeal.entry_id) == (customer.user_id, blocked.pk)
    assert LogEntry.objects.filter(user_id=customer.user_id).count() == 1


def test_appealing_twice_returns_the_open_appeal(api, blocked):
    first = api.post(URL, {"message": "please"}, format="json").json()
    again = api.post(URL, {"message": "please, again"}, format="json")
    assert (again.status_code, again.json()["id"]) == (200, first["id"])
    assert Appeal.objects.count() == 1


def test_the_device_and_ip_of_the_request_are_the_default_for_those_kinds(api, customer):
    judge(attempt(customer.user_id, device="dev-77"))  # the device this account bought from
    device = api.post(URL, {"message": "shared phone", "kind": "device"}, format="json",
                      HTTP_X_DEVICE_ID="dev-77")
    ip = api.post(URL, {"message": "campus network", "kind": "ip"}, format="json",
                  REMOTE_ADDR="10.20.30.40")
    assert (device.json()["value"], ip.json()["value"]) == ("dev-77", "10.20.30.40")


def test_the_registered_phone_is_the_default_for_phone(api, customer):
    response = api.post(URL, {"message": "my number", "kind": "phone"}, format="json")
    assert response.json()["value"] == customer.phone


def test_an_address_appeal_is_normalised(api, customer):
    address = customer.addresses.get()
    response = api.post(URL, {"message": "my flat", "kind": "address",
                              "value": f"{address.line1}|{address.city}|{address.postcode}"},
                        format="json")
    assert (response.status_code, response.json()["value"]) == (201, address.normalized)


@pytest.mark.parametrize(("body", "field"), [
    ({}, "message"),
    ({"message": "   "}, "message"),
    ({"message": "x" * 2001}, "message"),
    ({"message": "hi", "kind": "email"}, "kind"),
    ({"message": "hi", "kind": "account", "value": "999999"}, "value"),
    ({"message": "hi", "kind": "address"}, "value"),
    ({"message": "hi", "kind": "device"}, "value"),
    ({"message": "hi", "kind": "ip", "value": "not an ip"}, "value"),
])
def test_bad_appeals_are_400_naming_the_field(api, customer, body, field):
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["details"]
    assert not Appeal.objects.exists()


def test_appealing_needs_a_token(anon):
    response = anon.post(URL, {"message": "hi"}, format="json")
    assert (response.status_code, error_of(response)["code"]) == (401, "unauthenticated")


def test_a_shopper_lists_only_their_own_appeals(api, make_customer):
    other = make_customer()
    appeals.appeal_submit(user_id=other.user_id, message="not yours")
    api.post(URL, {"message": "mine"}, format="json")
    assert [a["message"] for a in api.get(URL).json()] == ["mine"]


def test_upholding_clears_the_identity_at_the_gate_and_closes_the_appeal(
        customer, blocked, admin_user, on_commit):
    appeal, _ = appeals.appeal_submit(user_id=customer.user_id, message="fan")
    assert mirrored("account") == {str(customer.user_id)}
    with on_commit():
        assert appeals.appeal_uphold(appeal_id=appeal.pk, actor_id=admin_user.pk,
                                      note="verified fan")
    appeal.refresh_from_db()
    assert (appeal.status, appeal.handled_by_id, appeal.resolution) == (
        Appeal.Status.UPHELD, admin_user.pk, "verified fan")
    assert appeal.handled_at is not None
    allowed = AllowlistEntry.objects.get()
    assert (allowed.kind, allowed.value, allowed.created_by_id) == (
        "account", str(customer.user_id), admin_user.pk)
    assert not BlacklistEntry.objects.filter(is_active=True).exists()
    assert mirrored("account") == set()


def test_an_upheld_identity_stays_clear_when_a_rule_lists_it_again(customer, blocked,
                                                                   on_commit):
    appeal, _ = appeals.appeal_submit(user_id=customer.user_id, message="fan")
    with on_commit():
        appeals.appeal_uphold(appeal_id=appeal.pk)
        services.blacklist_add(kind="account", value=str(customer.user_id), source="rule")
    assert BlacklistEntry.objects.filter(is_active=True).count() == 1
    assert mirrored("account") == set()


def test_rejecting_keeps_the_identity_blocked(customer, blocked, admin_user, on_commit):
    appeal, _ = appeals.appeal_submit(user_id=customer.user_id, message="fan")
    with on_commit():
        assert appeals.appeal_reject(appeal_id=appeal.pk, actor_id=admin_user.pk,
                                      note="40 orders to 40 addresses")
    appeal.refresh_from_db()
    assert appeal.status == Appeal.Status.REJECTED
    assert mirrored("account") == {str(customer.user_id)}
    assert not AllowlistEntry.objects.exists()


def test_an_appeal_is_handled_once(customer, blocked):
    appeal, _ = appeals.appeal_submit(user_id=customer.user_id, message="fan")
    assert appeals.appeal_reject(appeal_id=appeal.pk) is True
    assert appeals.appeal_uphold(appeal_id=appeal.pk) is False
    assert appeals.appeal_reject(appeal_id=appeal.pk) is False
    assert not AllowlistEntry.objects.exists()


def test_after_a_rejection_the_shopper_may_appeal_again(api, customer, blocked):
    first = api.post(URL, {"message": "fan"}, format="json").json()
    appeals.appeal_reject(appeal_id=first["id"])
    second = api.post(URL, {"message": "new evidence"}, format="json")
    assert second.status_code == 201 and second.json()["id"] != first["id"]


# --- Only one's own identities: upholding allowlists the identity for everyone ------------


def _refused_as_not_yours(response) -> bool:
    error = error_of(response)
    return (response.status_code, error["code"], error["details"].get("value")) == (
        400, "invalid", [appeals.NOT_YOURS])


def test_an_appeal_for_an_ip_the_account_was_never_seen_on_is_refused(api):
    response = api.post(URL, {"message": "clear it", "kind": "ip", "value": "8.8.8.8"},
                        format="json")
    assert _refused_as_not_yours(response)
    assert not Appeal.objects.exists()


def test_an_appeal_for_another_shoppers_phone_is_refused(api, make_customer):
    victim = make_customer()
    response = api.post(URL, {"message": "mine", "kind": "phone", "value": victim.phone},
                        format="json")
    assert _refused_as_not_yours(response)


def test_a_phone_only_copied_into_the_address_book_is_not_ones_own(api, customer,
                                                                   make_customer):
    from shop.services import address_create

    victim = make_customer()
    address_create(customer=customer, recipient="V", phone=victim.phone, line1="1 Copy Road",
                   city="Shenzhen", postcode="518000")
    response = api.post(URL, {"message": "mine", "kind": "phone", "value": victim.phone},
                        format="json")
    assert _refused_as_not_yours(response)


def test_a_device_merely_sent_in_the_header_is_not_ones_own(api, make_customer):
    """The header is the client's word: the device must be one the account was seen on."""
    other = make_customer()
    judge(attempt(other.user_id, device="dev-of-a-ring"))
    response = api.post(URL, {"message": "mine", "kind": "device"}, format="json",
                        HTTP_X_DEVICE_ID="dev-of-a-ring")
    assert _refused_as_not_yours(response)


def test_someone_elses_address_and_card_are_refused(api, make_customer, sku):
    other = make_customer()
    pay_with(other, sku, "card-9999")
    address = other.addresses.get()
    for kind, value in (("address", f"{address.line1}|{address.city}|{address.postcode}"),
                        ("payment", "card-9999")):
        response = api.post(URL, {"message": "mine", "kind": kind, "value": value},
                            format="json")
        assert _refused_as_not_yours(response), kind


def test_ones_own_card_and_the_ip_one_bought_from_may_be_appealed(api, customer, sku):
    pay_with(customer, sku, "card-1234")
    judge(attempt(customer.user_id, ip="36.1.2.3"))
    card = api.post(URL, {"message": "my card", "kind": "payment", "value": "card-1234"},
                    format="json")
    ip = api.post(URL, {"message": "my flat", "kind": "ip", "value": "36.1.2.3"},
                  format="json", REMOTE_ADDR="10.0.0.9")
    assert (card.status_code, ip.status_code) == (201, 201)


def test_appeals_are_rate_limited_in_the_error_envelope(api, settings):
    settings.RATE_APPEAL = "2/m"
    answers = [api.post(URL, {"message": f"try {n}", "kind": "ip", "value": "8.8.8.8"},
                        format="json") for n in range(3)]
    assert [a.status_code for a in answers] == [400, 400, 429]
    assert error_of(answers[2])["code"] == "rate_limited"
    assert answers[2]["Retry-After"]


def test_a_device_first_seen_after_it_was_blacklisted_is_not_ones_own(api, customer):
    """Trying a listed bot device (refused, but recorded) does not make it yours to clear."""
    services.blacklist_add(kind="device", value="bot-farm-7", reason="ring")
    # A minute after now, whenever this runs (the helpers' T0 is fixed when they are imported).
    later_ms = int(time.time() * 1000) - T0 + 60_000
    judge(attempt(customer.user_id, device="bot-farm-7", verdict="blocked", after_ms=later_ms))
    response = api.post(URL, {"message": "mine", "kind": "device", "value": "bot-farm-7"},
                        format="json")
    assert _refused_as_not_yours(response)


def test_a_device_seen_before_it_was_blacklisted_may_be_appealed(api, customer):
    judge(attempt(customer.user_id, device="family-tablet"))
    services.blacklist_add(kind="device", value="family-tablet", reason="shared device")
    response = api.post(URL, {"message": "our tablet", "kind": "device",
                              "value": "family-tablet"}, format="json")
    assert response.status_code == 201
