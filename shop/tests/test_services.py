"""Customers, addresses and placing orders (shop.services)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.errors import DomainError
from shop import services
from shop.models import Customer, FanLevel, Order, OrderStatus, Sku

User = get_user_model()


def _register(**overrides) -> Customer:
    fields = {"username": "leijun", "password": "are-you-ok-2014", "phone": "13800138000"}
    return services.customer_register(**{**fields, **overrides})


def _refusal(call, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(**kwargs)
    return caught.value


def test_registering_creates_a_login_and_a_profile_with_the_normalised_phone(db):
    customer = _register(phone="138 0013-8000", fan_level=FanLevel.LV2)
    assert customer.phone == "13800138000"
    assert customer.fan_level == FanLevel.LV2
    assert customer.user.check_password("are-you-ok-2014")
    assert customer.joined_at is not None


@pytest.mark.parametrize("password", ["password", "12345678901", "leijun12", "short"])
def test_a_weak_password_is_refused_and_nothing_is_created(db, password):
    error = _refusal(_register, password=password)
    assert (error.code, error.status) == ("invalid", 400)
    assert "password" in error.details
    assert not User.objects.exists()


def test_a_taken_username_is_refused_in_any_case(db):
    _register()
    error = _refusal(_register, username="LeiJun", phone="13900139000")
    assert error.code == "invalid"
    assert "username" in error.details
    assert Customer.objects.count() == 1


def test_a_phone_registered_under_another_spelling_is_refused(db):
    _register(phone="+8613800138000")
    error = _refusal(_register, username="another", phone="+86 138-0013-8000")
    assert error.code == "invalid"
    assert "phone" in error.details
    assert User.objects.count() == 1


@pytest.mark.parametrize("phone", ["", "12345", "call me", "1" * 19, "+86 138 0013 800x"])
def test_a_malformed_phone_is_refused(db, phone):
    error = _refusal(services.phone_normalize, phone=phone)
    assert error.code == "invalid"
    assert "phone" in error.details


@pytest.mark.parametrize("spelling", ["138 0013 8000", "138-0013-8000", "(138) 0013.8000"])
def test_phone_spellings_normalise_to_the_same_digits(spelling):
    assert services.phone_normalize(phone=spelling) == "13800138000"


@pytest.mark.parametrize(("first", "second"), [
    (("12 Nanjing Road, Room 301", "Shanghai", "200001"),
     ("12 nanjing rd. rm 301", "  SHANGHAI ", "200 001")),
    (("No. 5 Zhongguancun Street, Building 2", "Beijing", "100080"),
     ("5 Zhongguancun St Bldg 2", "beijing", "100080")),
    (("8 Shennan Avenue Floor 3", "Shenzhen", "518000"),
     ("８ Shennan Av., Fl 3", "Shenzhen", "518000")),
])
def test_two_spellings_of_one_address_match(first, second):
    keys = [services.address_normalize(line1=a, city=b, postcode=c) for a, b, c in (first, second)]
    assert keys[0] == keys[1]


def test_different_addresses_do_not_match():
    one = services.address_normalize(line1="12 Nanjing Road", city="Shanghai", postcode="200001")
    two = services.address_normalize(line1="13 Nanjing Road", city="Shanghai", postcode="200001")
    assert one != two


def test_an_address_is_stored_trimmed_with_its_matching_key(customer):
    address = services.address_create(
        customer=customer, recipient=" Lei Jun ", phone="138 0013 8001",
        line1=" 12 Nanjing Road ", city="Shanghai ", postcode="200001",
    )
    address.refresh_from_db()
    assert (address.recipient, address.line1, address.city) == (
        "Lei Jun", "12 Nanjing Road", "Shanghai")
    assert address.phone == "13800138001"
    assert address.normalized == services.address_normalize(
        line1="12 nanjing rd", city="shanghai", postcode="200001")


def test_an_address_with_a_bad_phone_is_refused(customer):
    before = customer.addresses.count()
    error = _refusal(services.address_create, customer=customer, recipient="A", phone="x",
                     line1="1 Road", city="Shanghai", postcode="200001")
    assert error.code == "invalid"
    assert customer.addresses.count() == before


def test_an_order_is_placed_at_list_prices_and_awaits_payment_in_its_window(customer, sku):
    other = Sku.objects.create(product=sku.product, code="CASE", name="Case",
                               price=Decimal("29.00"))
    now = timezone.now()
    order = services.order_create(
        user_id=customer.user_id, lines=[(sku.id, 2), (other.id, 1)],
        address_id=customer.addresses.get().id, payment_window=timedelta(minutes=15), now=now,
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_PAYMENT
    assert order.total == Decimal("5027.00")
    assert order.payment_due_at == now + timedelta(minutes=15)
    assert sorted(order.lines.values_list("quantity", "unit_price")) == [
        (1, Decimal("29.00")), (2, Decimal("2499.00"))]
    assert len(order.number) == 18


def test_a_later_price_change_does_not_change_a_placed_order(customer, sku):
    order = services.order_create(user_id=customer.user_id, lines=[(sku.id, 1)])
    Sku.objects.filter(pk=sku.pk).update(price=Decimal("1999.00"))
    order.refresh_from_db()
    assert order.total == Decimal("2499.00")
    assert order.lines.get().unit_price == Decimal("2499.00")


@pytest.mark.parametrize("quantities", [[], [0], [1, -1]], ids=["no lines", "zero", "negative"])
def test_an_order_without_a_positive_quantity_is_invalid(customer, sku, quantities):
    lines = [(sku.id, quantity) for quantity in quantities]
    error = _refusal(services.order_create, user_id=customer.user_id, lines=lines)
    assert error.code == "invalid"
    assert "lines" in error.details
    assert not Order.objects.exists()


def test_an_order_for_an_unknown_or_inactive_sku_is_not_found(customer, sku):
    retired = Sku.objects.create(product=sku.product, code="OLD", name="Old", price=1,
                                 is_active=False)
    for sku_id in (999_999, retired.id):
        error = _refusal(services.order_create, user_id=customer.user_id, lines=[(sku_id, 1)])
        assert error.code == "not_found"
    assert not Order.objects.exists()


def test_an_order_cannot_ship_to_someone_elses_address(make_customer, sku):
    buyer, stranger = make_customer(), make_customer()
    error = _refusal(services.order_create, user_id=buyer.user_id, lines=[(sku.id, 1)],
                     address_id=stranger.addresses.get().id)
    assert error.code == "not_found"
    assert not Order.objects.exists()


def test_order_numbers_are_unguessable_and_distinct(customer, sku):
    numbers = {services.order_create(user_id=customer.user_id, lines=[(sku.id, 1)]).number
               for _ in range(20)}
    assert len(numbers) == 20
