"""A shopper's address book: edit, delete, choose the default (adding is
`shop.services.address_create`).

Editing never rewrites history. An address row's delivery text is written once: an edit
archives the row as it is (`deleted_at`, `replaced_by`) and writes the new text as a new
row, which takes over the default. So an order, even one whose ticket is still in the
pipeline's queue when the shopper edits, keeps the text it was bought for, and the
anti-scalper, which reads every version a customer ever held (`antiscalper.holders`,
`antiscalper.risk`), still sees the address a ring shared after a member edited or deleted
its own copy. Copy-on-write costs nothing at purchase time; a snapshot per order would cost
the pipeline a wider row on every one of its bulk inserts.

Every write takes the customer's row lock first (`services.customer_lock`), so writes to one
address book run one after the other, and the database's own constraint
(`address_one_default_per_customer`) stands behind the rule they keep: among a customer's
live addresses exactly one is the default.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import not_found
from shop import selectors
from shop.models import Address, Customer
from shop.services import ADDRESS_TEXT, address_values, customer_lock


def _own_live(*, user_id: int, address_id: int) -> Address:
    """The user's live address (the newest version of an edited one) under the customer's
    lock; another shopper's or a deleted one is `not_found`, indistinguishable from none."""
    customer_id = Customer.objects.filter(user_id=user_id).values_list("pk", flat=True).first()
    if customer_id is None:
        raise not_found("address")
    customer_lock(customer_id=customer_id)
    return selectors.address_get(user_id=user_id, address_id=address_id)


def _default_pass_on(*, customer_id: int) -> None:
    """After the default left: the newest remaining live address becomes the default."""
    newest = (Address.objects.filter(customer_id=customer_id, deleted_at__isnull=True)
              .order_by("-created_at", "-pk").values_list("pk", flat=True).first())
    if newest is not None:
        Address.objects.filter(pk=newest).update(is_default=True)


def address_update(*, user_id: int, address_id: int, recipient: str | None = None,
                   phone: str | None = None, province: str | None = None,
                   city: str | None = None, district: str | None = None,
                   line1: str | None = None, postcode: str | None = None,
                   now: datetime | None = None) -> Address:
    """Change an address's text (fields left None keep theirs): the answer is the new
    version, with a new id, unless nothing changed; the old version is archived as it was."""
    changes = {"recipient": recipient, "phone": phone, "province": province, "city": city,
               "district": district, "line1": line1, "postcode": postcode}
    with transaction.atomic():
        address = _own_live(user_id=user_id, address_id=address_id)
        wanted = {name: getattr(address, name) if changes[name] is None else changes[name]
                  for name in ADDRESS_TEXT}
        values = address_values(**wanted)
        if all(values[name] == getattr(address, name) for name in ADDRESS_TEXT):
            return address
        # The default moves to the new version: the old one gives it up first (the
        # constraint allows one default per customer, even for an instant).
        Address.objects.filter(pk=address.pk).update(is_default=False,
                                                     deleted_at=now or timezone.now())
        new = Address.objects.create(customer_id=address.customer_id,
                                     is_default=address.is_default, **values)
        # Every older version names the newest one: one hop from any id it ever had.
        Address.objects.filter(Q(pk=address.pk) | Q(replaced_by=address.pk)).update(
            replaced_by=new)
        return new


def address_delete(*, user_id: int, address_id: int, now: datetime | None = None) -> None:
    """Take an address out of the shopper's book and out of new purchases; orders placed
    with it keep it. Deleting the default makes the newest remaining address the default."""
    with transaction.atomic():
        address = _own_live(user_id=user_id, address_id=address_id)
        Address.objects.filter(pk=address.pk).update(is_default=False,
                                                     deleted_at=now or timezone.now())
        if address.is_default:
            _default_pass_on(customer_id=address.customer_id)


def address_default_set(*, user_id: int, address_id: int) -> Address:
    """Make this live address the one checkout offers first; setting it again changes
    nothing."""
    with transaction.atomic():
        address = _own_live(user_id=user_id, address_id=address_id)
        if not address.is_default:
            Address.objects.filter(customer_id=address.customer_id, is_default=True).update(
                is_default=False)
            Address.objects.filter(pk=address.pk).update(is_default=True)
            address.is_default = True
        return address
