"""Writes and decisions of the store: customers, addresses and the order state machine.

Every state change is a conditional update with the current state in the WHERE clause, so a
transition that races another one happens once and the loser learns it lost.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError, ErrorCode, invalid, not_found
from shop.addresses import building_normalize, street_line
from shop.models import Address, Customer, FanLevel, Order, OrderLine, OrderStatus, Sku

User = get_user_model()

S = OrderStatus
# The order state machine: which states each state may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.AWAITING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    S.AWAITING_DEPOSIT: frozenset({S.AWAITING_BALANCE, S.CANCELLED, S.EXPIRED}),
    S.AWAITING_BALANCE: frozenset({S.PAID, S.FORFEITED, S.CANCELLED}),
    S.PAID: frozenset({S.SHIPPED, S.REFUNDED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.FORFEITED: frozenset(),
    S.REFUNDED: frozenset(),
}
CUSTOMER_CANCELLABLE = frozenset({S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT})

_PHONE_RE = re.compile(r"^\+?[0-9]{6,18}$")
_ADDRESS_WORDS = {
    "street": "st", "str": "st", "road": "rd", "avenue": "ave", "av": "ave",
    "apartment": "apt", "building": "bldg", "room": "rm", "floor": "fl", "number": "",
    "no": "", "unit": "", "district": "dist", "lu": "rd", "hao": "",
}


def phone_normalize(*, phone: str) -> str:
    """Digits and an optional leading +, so that '138 0013-8000' and '13800138000' are one phone."""
    # Any script's decimal digits are the same digits ("١٣٨..." is "138..."): otherwise one
    # phone could register twice and slip past a listed phone.
    cleaned = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch
                      for ch in re.sub(r"[\s\-().]", "", phone or ""))
    if not _PHONE_RE.match(cleaned):
        raise invalid("Phone numbers are 6 to 18 digits.", phone=[_("Enter a valid phone number.")])
    return cleaned


def address_normalize(*, line1: str, city: str, postcode: str, district: str = "") -> str:
    """A matching key for an address: case, punctuation, spacing and common words folded;
    the district read at the head of the street line, the province left out
    (`shop.addresses.street_line`: one key whichever field the district was typed in)."""
    def fold(text: str) -> str:
        text = unicodedata.normalize("NFKC", text).lower()
        words = re.sub(r"[^\w]+", " ", text).split()
        return " ".join(w for w in (_ADDRESS_WORDS.get(w, w) for w in words) if w)

    line1 = street_line(district=district, line1=line1)
    return f"{fold(line1)}|{fold(city)}|{re.sub(r'[^0-9a-z]', '', postcode.lower())}"


def customer_register(*, username: str, password: str, phone: str,
                      fan_level: int = FanLevel.LV0, now: datetime | None = None) -> Customer:
    """Create a login and its customer profile in one go; phone and username are unique."""
    phone = phone_normalize(phone=phone)
    try:
        validate_password(password, User(username=username))
    except ValidationError as error:
        raise invalid("The password is too weak.", password=list(error.messages)) from None
    if User.objects.filter(username__iexact=username).exists():
        raise invalid("That username is taken.", username=[_("already taken")])
    if Customer.objects.filter(phone=phone).exists():
        raise invalid("That phone number is already registered.", phone=[_("already registered")])
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password)
            return Customer.objects.create(
                user=user, phone=phone, fan_level=fan_level, joined_at=now or timezone.now()
            )
    except IntegrityError:
        raise invalid("That username or phone is taken.",
                      username=[_("already taken")]) from None


# What a shopper types for a delivery address; `normalized` and `building` are made from it.
ADDRESS_TEXT = ("recipient", "phone", "province", "city", "district", "line1", "postcode")


def address_values(*, recipient: str, phone: str, line1: str, city: str, postcode: str,
                   province: str = "", district: str = "") -> dict[str, str]:
    """An address's columns as stored, with their matching forms, or `invalid` naming the
    fields at fault.

    Every length is checked here, before the INSERT: PostgreSQL refuses an over-long value
    (SQLite does not), and NFKC folding can make the matching form longer than what was
    typed (one "\ufdfa" is 18 letters), so a valid-looking address must get a field error, not
    a 500 that leaves a half-made registration behind."""
    keys = {"line1": line1, "city": city, "postcode": postcode, "district": district}
    values = {"recipient": recipient.strip(), "phone": phone_normalize(phone=phone),
              "province": province.strip(), "city": city.strip(),
              "district": district.strip(), "line1": line1.strip(),
              "postcode": postcode.strip(), "normalized": address_normalize(**keys),
              "building": building_normalize(**keys)}
    too_long = {name: [_("Ensure this field has no more than %(limit)d characters.")
                       % {"limit": limit}]
                for name, value in values.items()
                if len(value) > (limit := Address._meta.get_field(name).max_length)}
    for derived in ("normalized", "building"):
        if derived in too_long:
            too_long["line1"] = [_("This address is too long once normalised; shorten it.")]
            del too_long[derived]
    if too_long:
        raise invalid("The address has fields that are too long.", **too_long)
    return values


def customer_lock(*, customer_id: int) -> None:
    """Take the customer's row lock: every write to one address book queues behind it, so
    two requests at once cannot both make an address the default (the database's
    constraint would refuse the second with an IntegrityError, a 500). Inside a transaction."""
    list(Customer.objects.select_for_update().filter(pk=customer_id).values_list("pk"))


def address_create(*, customer: Customer, recipient: str, phone: str, line1: str, city: str,
                   postcode: str, province: str = "", district: str = "",
                   idempotency_key: str = "") -> Address:
    """Add a delivery address with its normalised matching forms; a customer's first live
    address becomes the default. With an `idempotency_key` already used by this customer,
    the address that key created (a retry: nothing is added), or 409
    `idempotency_key_reused` when the retry says another address."""
    values = address_values(recipient=recipient, phone=phone, line1=line1, city=city,
                            postcode=postcode, province=province, district=district)
    with transaction.atomic():
        customer_lock(customer_id=customer.pk)
        if idempotency_key:
            earlier = Address.objects.filter(customer=customer,
                                             idempotency_key=idempotency_key).first()
            if earlier is not None:
                if any(values[name] != getattr(earlier, name) for name in ADDRESS_TEXT):
                    raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "This Idempotency-Key was "
                                      "already used for another address.")
                return earlier
        first = not Address.objects.filter(customer=customer, is_default=True).exists()
        return Address.objects.create(customer=customer, is_default=first,
                                      idempotency_key=idempotency_key, **values)


def order_number_new(now: datetime | None = None) -> str:
    """A human-readable, unguessable order number (date plus 48 random bits)."""
    return f"{now or timezone.now():%y%m%d}{secrets.token_hex(6).upper()}"


def order_numbers_new(count: int, now: datetime | None = None) -> list[str]:
    """`count` numbers as `order_number_new` makes them, from one read of the system's random
    source instead of one per order (the pipeline numbers a thousand orders per batch)."""
    day, digits = f"{now or timezone.now():%y%m%d}", secrets.token_hex(6 * count).upper()
    return [day + digits[i:i + 12] for i in range(0, 12 * count, 12)]


def order_create(*, user_id: int, lines: Iterable[tuple[int, int]], address_id: int | None = None,
                 payment_window: timedelta = timedelta(minutes=30),
                 now: datetime | None = None) -> Order:
    """Place a regular catalogue order at list prices, awaiting payment within the window."""
    now = now or timezone.now()
    wanted = [(sku_id, quantity) for sku_id, quantity in lines]
    if not wanted or any(quantity < 1 for _, quantity in wanted):
        raise invalid("An order needs at least one line with quantity >= 1.", lines=["invalid"])
    skus = Sku.objects.in_bulk([sku_id for sku_id, _ in wanted])
    if len(skus) != len({sku_id for sku_id, _ in wanted}) or not all(
        s.is_active for s in skus.values()
    ):
        raise not_found("SKU")
    if address_id is not None and not Address.objects.filter(
        pk=address_id, customer__user_id=user_id, deleted_at__isnull=True
    ).exists():
        raise not_found("address")
    total = sum((skus[sku_id].price * quantity for sku_id, quantity in wanted), Decimal("0"))
    with transaction.atomic():
        order = Order.objects.create(
            number=order_number_new(), user_id=user_id, address_id=address_id,
            status=S.AWAITING_PAYMENT, total=total, balance_due=Decimal("0"),
            payment_due_at=now + payment_window, created_at=now,
        )
        OrderLine.objects.bulk_create(
            OrderLine(order=order, sku_id=sku_id, quantity=quantity, unit_price=skus[sku_id].price)
            for sku_id, quantity in wanted
        )
    return order


def order_transition(*, order_id: int, to: str, expected: Iterable[str] | None = None,
                     **conditions) -> bool:
    """Move an order to `to` if it is in one of the `expected` states (default: any state that
    may reach `to`) and matches `conditions`; False when another transition got there first."""
    allowed = {state for state, targets in TRANSITIONS.items() if to in targets}
    if expected is not None:
        if not set(expected) <= allowed:
            raise ValueError(f"{sorted(set(expected) - allowed)} cannot move to {to}")
        allowed = set(expected)
    changed = Order.objects.filter(pk=order_id, status__in=allowed, **conditions).update(
        status=to, updated_at=timezone.now()
    )
    return bool(changed)


def order_cancel(*, order_id: int, user_id: int) -> Order:
    """A customer cancels an order before paying anything for it."""
    order = Order.objects.filter(pk=order_id, user_id=user_id).first()
    if order is None:
        raise not_found("order")
    if not order_transition(order_id=order_id, to=S.CANCELLED, expected=CUSTOMER_CANCELLABLE):
        order.refresh_from_db()
        raise DomainError(
            "not_cancellable", f"An order that is {order.status} cannot be cancelled.",
            details={"status": order.status},
        )
    order.refresh_from_db()
    return order


def order_ship(*, order_id: int) -> bool:
    """Hand a paid order to the carrier."""
    return order_transition(order_id=order_id, to=S.SHIPPED, expected=[S.PAID])


def order_deliver(*, order_id: int) -> bool:
    """Record that a shipped order arrived."""
    return order_transition(order_id=order_id, to=S.DELIVERED, expected=[S.SHIPPED])


def order_admin_cancel(*, order_id: int) -> bool:
    """Ops cancel an order nobody has paid in full yet (deposit orders keep their deposit rules)."""
    return order_transition(order_id=order_id, to=S.CANCELLED, expected=CUSTOMER_CANCELLABLE)


def order_expire(*, order_id: int, now: datetime | None = None) -> bool:
    """Expire an unpaid order whose deadline has passed; False if it was paid or changed first."""
    return order_transition(
        order_id=order_id, to=S.EXPIRED, expected=[S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT],
        payment_due_at__lt=now or timezone.now(),
    )


def order_forfeit(*, order_id: int, now: datetime | None = None) -> bool:
    """Close a deposit order whose balance was not paid in its window: the deposit is kept."""
    return order_transition(
        order_id=order_id, to=S.FORFEITED, expected=[S.AWAITING_BALANCE],
        payment_due_at__lt=now or timezone.now(),
    )
