"""The address book's rules (issue 18 point 2): 省/市/区 addresses, one default per customer
(held by the database, not only by code), deletion that hides an address from the shopper
and nothing else, and edits that never rewrite the text an order was placed with."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from core.errors import DomainError
from shop import address_book, selectors, services
from shop.models import Address, Order
from shop.tests.helpers import run_together

pytestmark = pytest.mark.django_db

HOME = {"recipient": "雷军", "phone": "13800138011", "province": "北京市", "city": "北京市",
        "district": "海淀区", "line1": "清河中街68号华润五彩城", "postcode": "100085"}


def _add(customer, **overrides) -> Address:
    return services.address_create(customer=customer, **{**HOME, **overrides})


def _defaults(customer) -> list[int]:
    return list(Address.objects.filter(customer=customer, is_default=True)
                .values_list("pk", flat=True))


def test_the_first_address_is_the_default_and_the_next_ones_are_not(make_customer):
    customer = make_customer(with_address=False)
    first, second = _add(customer), _add(customer, line1="安宁庄路小米科技园")
    assert _defaults(customer) == [first.pk]
    assert not second.is_default
    assert [a.pk for a in selectors.address_list(user_id=customer.user_id)] == [first.pk,
                                                                                 second.pk]


def test_choosing_another_default_leaves_exactly_one(make_customer):
    customer = make_customer(with_address=False)
    first, second = _add(customer), _add(customer, line1="安宁庄路小米科技园")
    address_book.address_default_set(user_id=customer.user_id, address_id=second.pk)
    assert _defaults(customer) == [second.pk] and first.pk not in _defaults(customer)
    address_book.address_default_set(user_id=customer.user_id, address_id=second.pk)  # again
    assert _defaults(customer) == [second.pk]
    assert selectors.address_list(user_id=customer.user_id)[0].pk == second.pk  # default first


def test_the_database_itself_refuses_a_second_default(make_customer):
    """Not only the services: a write that bypasses them is refused by the constraint."""
    customer = make_customer(with_address=False)
    _add(customer)
    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.create(customer=customer, recipient="x", phone="13800138011",
                               line1="x", city="x", postcode="1", normalized="x",
                               is_default=True)


def test_deleting_the_default_makes_the_newest_remaining_address_the_default(make_customer):
    customer = make_customer(with_address=False)
    first, middle, newest = (_add(customer, line1=f"建国路{n}号") for n in (1, 2, 3))
    address_book.address_delete(user_id=customer.user_id, address_id=first.pk)
    assert _defaults(customer) == [newest.pk]
    assert [a.pk for a in selectors.address_list(user_id=customer.user_id)] == [newest.pk,
                                                                                 middle.pk]
    address_book.address_delete(user_id=customer.user_id, address_id=middle.pk)  # not default
    assert _defaults(customer) == [newest.pk]
    address_book.address_delete(user_id=customer.user_id, address_id=newest.pk)
    assert _defaults(customer) == [] and not selectors.address_list(user_id=customer.user_id)
    assert _add(customer, line1="新地址").is_default  # a book emptied starts again


def test_a_deleted_address_is_gone_for_the_shopper_but_kept_for_its_orders(make_customer, sku):
    customer = make_customer(with_address=False)
    address = _add(customer)
    order = services.order_create(user_id=customer.user_id, lines=[(sku.pk, 1)],
                                  address_id=address.pk)
    address_book.address_delete(user_id=customer.user_id, address_id=address.pk)
    with pytest.raises(DomainError) as missing:
        selectors.address_get(user_id=customer.user_id, address_id=address.pk)
    assert missing.value.code == "not_found"
    with pytest.raises(DomainError):  # and no new order may use it
        services.order_create(user_id=customer.user_id, lines=[(sku.pk, 1)],
                              address_id=address.pk)
    kept = Order.objects.select_related("address").get(pk=order.pk).address
    assert (kept.pk, kept.line1, kept.deleted_at is not None) == (address.pk, HOME["line1"],
                                                                 True)


def test_an_edit_is_a_new_version_and_the_order_keeps_the_text_it_was_placed_with(
        make_customer, sku):
    customer = make_customer(with_address=False)
    address = _add(customer)
    order = services.order_create(user_id=customer.user_id, lines=[(sku.pk, 1)],
                                  address_id=address.pk)
    edited = address_book.address_update(user_id=customer.user_id, address_id=address.pk,
                                         line1="西二旗小米科技园", district="昌平区")
    assert edited.pk != address.pk and edited.is_default
    assert (edited.line1, edited.district, edited.recipient) == ("西二旗小米科技园", "昌平区",
                                                                 HOME["recipient"])
    address.refresh_from_db()
    assert (address.line1, address.district, address.normalized) == (
        HOME["line1"], HOME["district"], services.address_normalize(
            line1=HOME["line1"], city=HOME["city"], postcode=HOME["postcode"],
            district=HOME["district"]))
    assert Order.objects.get(pk=order.pk).address_id == address.pk
    assert [a.pk for a in selectors.address_list(user_id=customer.user_id)] == [edited.pk]


def test_an_old_id_reaches_the_newest_version_so_a_retried_edit_changes_nothing_more(
        make_customer):
    customer = make_customer(with_address=False)
    address = _add(customer)
    first = address_book.address_update(user_id=customer.user_id, address_id=address.pk,
                                        line1="一号")
    again = address_book.address_update(user_id=customer.user_id, address_id=address.pk,
                                        line1="一号")
    assert again.pk == first.pk  # the retry found the first edit's version: no third row
    later = address_book.address_update(user_id=customer.user_id, address_id=address.pk,
                                        line1="二号")
    assert Address.objects.get(pk=address.pk).replaced_by_id == later.pk  # one hop
    assert selectors.address_get(user_id=customer.user_id, address_id=first.pk).pk == later.pk
    address_book.address_delete(user_id=customer.user_id, address_id=address.pk)
    for old in (address.pk, first.pk, later.pk):
        with pytest.raises(DomainError):
            selectors.address_get(user_id=customer.user_id, address_id=old)


def test_an_edit_that_changes_nothing_keeps_the_address(make_customer):
    customer = make_customer(with_address=False)
    address = _add(customer)
    same = address_book.address_update(user_id=customer.user_id, address_id=address.pk,
                                       phone="138 0013 8011", line1=f" {HOME['line1']} ")
    assert same.pk == address.pk and Address.objects.filter(customer=customer).count() == 1


def test_another_shoppers_address_can_be_neither_read_nor_changed(make_customer):
    owner, other = make_customer(with_address=False), make_customer(with_address=False)
    address = _add(owner)
    for write in (lambda: address_book.address_update(user_id=other.user_id,
                                                      address_id=address.pk, line1="mine"),
                  lambda: address_book.address_delete(user_id=other.user_id,
                                                      address_id=address.pk),
                  lambda: address_book.address_default_set(user_id=other.user_id,
                                                           address_id=address.pk),
                  lambda: selectors.address_get(user_id=other.user_id, address_id=address.pk)):
        with pytest.raises(DomainError) as refused:
            write()
        assert refused.value.code == "not_found"
    address.refresh_from_db()
    assert (address.line1, address.deleted_at, address.is_default) == (HOME["line1"], None, True)


def test_the_district_typed_in_its_field_or_in_the_line_is_one_address_and_one_building():
    """Old clients write the whole street in line1; the storefront's form has a district
    box: both spellings of one flat must still meet in the matching forms."""
    split = {"line1": "建国路88号5号楼1单元101室", "district": "朝阳区", "city": "北京",
             "postcode": "100022"}
    whole = {"line1": "朝阳区建国路88号5号楼1单元101室", "city": "北京", "postcode": "100022"}
    twice = {**split, "line1": whole["line1"]}
    assert (services.address_normalize(**split) == services.address_normalize(**whole)
            == services.address_normalize(**twice))
    from shop.addresses import building_normalize
    assert building_normalize(**split) == building_normalize(**whole)
    other = {**split, "district": "东城区"}  # another district's 建国路 is another place
    assert services.address_normalize(**other) != services.address_normalize(**split)


def test_an_address_without_a_district_keeps_the_key_it_always_had():
    """Keys of addresses stored before districts are unchanged: blacklist entries and the
    matches between existing rows keep working."""
    assert services.address_normalize(line1="88 Jianguo Road, Room 3", city="Beijing",
                                      postcode="100 022") == "88 jianguo rd rm 3|beijing|100022"


@pytest.mark.parametrize("field, value", [("province", "省" * 41), ("district", "区" * 41),
                                          ("line1", "\ufdfa" * 20)])
def test_an_over_long_field_is_a_field_error(make_customer, field, value):
    customer = make_customer(with_address=False)
    with pytest.raises(DomainError) as refused:
        _add(customer, **{field: value})
    assert refused.value.code == "invalid" and field in refused.value.details
    assert not Address.objects.filter(customer=customer).exists()


def test_adding_and_choosing_defaults_one_after_another_never_leaves_two(make_customer):
    """On any database: many writes in a row, each keeping exactly one default."""
    customer = make_customer(with_address=False)
    added = [_add(customer, line1=f"{n}号") for n in range(6)]
    for address in reversed(added):
        address_book.address_default_set(user_id=customer.user_id, address_id=address.pk)
        assert _defaults(customer) == [address.pk]
    address_book.address_update(user_id=customer.user_id, address_id=added[0].pk, line1="新")
    assert len(_defaults(customer)) == 1


@pytest.mark.django_db(transaction=True)
def test_racing_writes_never_leave_two_defaults(make_customer):
    """Real threads on the real database (on PostgreSQL they truly interleave, and the
    customer's row lock orders them; SQLite's IMMEDIATE transactions run them one at a
    time): first addresses added at once, defaults chosen at once, the default deleted
    while others are chosen and edited; never two defaults, never an error."""
    customer = make_customer(with_address=False)
    made = run_together(*[lambda n=n: _add(customer, line1=f"{n}号") for n in range(6)])
    assert not [r for r in made if isinstance(r, Exception)]
    assert len(_defaults(customer)) == 1
    ids = [a.pk for a in made]
    chosen = run_together(*[lambda pk=pk: address_book.address_default_set(
        user_id=customer.user_id, address_id=pk) for pk in ids])
    assert not [r for r in chosen if isinstance(r, Exception)]
    assert len(_defaults(customer)) == 1
    default = _defaults(customer)[0]
    others = [pk for pk in ids if pk != default]
    mixed = run_together(lambda: address_book.address_delete(user_id=customer.user_id,
                                                             address_id=default),
                         *[lambda pk=pk: address_book.address_default_set(
                             user_id=customer.user_id, address_id=pk)
                           for pk in others],
                         lambda: address_book.address_update(user_id=customer.user_id,
                                                             address_id=others[0], line1="改"))
    assert not [r for r in mixed if isinstance(r, Exception)]
    assert len(_defaults(customer)) == 1
    assert Address.objects.get(pk=_defaults(customer)[0]).deleted_at is None
