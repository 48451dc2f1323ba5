"""A scalper cannot erase ring evidence by editing or deleting an address after winning
(issue 18 point 2). Two accounts deliver to one drop address; one wins the unit, then the
winner edits its address into an innocent one and the loser deletes its own. Every version
stays a row the anti-scalper reads (`shop.address_book`), and the order points to the version
it was bought with, so linking still ties the two by the address they shared."""

from __future__ import annotations

import pytest

from antiscalper.linking import clusters_find
from antiscalper.models import RiskDecision
from sales import tasks
from sales.gate import admission
from sales.pipeline import orders as pipeline
from sales.pipeline import risk_feed
from sales.pipeline.tests.risk_helpers import BROWSER
from shop import address_book, selectors, services
from shop.models import Order
from shop.tests.fixtures import client_for

pytestmark = pytest.mark.django_db(transaction=True)  # units go back after commit

DROP = {"line1": "9 Drop Street, Room 1", "city": "Shenzhen", "postcode": "518000"}


def _links(cluster: dict) -> set[tuple[str, int]]:
    return {(link["kind"], link["accounts"]) for link in cluster["links"]
            if link["kind"] != "subnet"}


def _ring_buys_one_unit(make_sale, make_customer, size: int):
    """`size` new accounts, each with its own device and IP, deliver to one drop address and
    try for the sale's only unit; (sale, the ring, the winning order)."""
    sale = make_sale(stock=1, limit=1)
    ring = [make_customer(with_address=False) for _ in range(size)]
    for n, member in enumerate(ring):
        drop = services.address_create(customer=member, recipient=f"Member {n}",
                                       phone=member.phone, **DROP)
        client_for(member.user).post(f"/api/v1/sales/{sale.pk}/purchase",
                                     {"address_id": drop.pk}, format="json",
                                     REMOTE_ADDR=f"36.{n}.9.9",
                                     HTTP_X_DEVICE_ID=f"throwaway-{n}", **BROWSER)
        admission.sold_out_memo_clear()  # each attempt reaches the gate and its record
    risk_feed.attempts_drain(sale_id=sale.pk)
    pipeline.drain(sale_id=sale.pk)
    return sale, ring, Order.objects.get(sale_id=sale.pk)  # one unit: one winner


def _cover_tracks(ring, won) -> None:
    """The attack: the winner rewrites its address into another city; of the others, one
    rewrites its own and the rest delete theirs."""
    address_book.address_update(user_id=won.user_id, address_id=won.address_id,
                                line1="1 Innocent Avenue", city="Guangzhou", postcode="510000")
    losers = [m for m in ring if m.user_id != won.user_id]
    for n, loser in enumerate(losers):
        address = loser.addresses.get()
        if n == 0 and len(losers) > 1:
            address_book.address_update(user_id=loser.user_id, address_id=address.pk,
                                        line1=f"{n} Elsewhere Road")
        else:
            address_book.address_delete(user_id=loser.user_id, address_id=address.pk)
    assert [a.line1 for a in selectors.address_list(user_id=won.user_id)] == [
        "1 Innocent Avenue"]  # to the shopper, the drop address is gone


def test_two_accounts_that_shared_an_address_are_still_linked_after_covering_tracks(
        make_sale, make_customer):
    sale, ring, won = _ring_buys_one_unit(make_sale, make_customer, 2)
    [before] = clusters_find(sale_id=sale.pk)
    assert ("address", 2) in _links(before)

    _cover_tracks(ring, won)

    [after] = clusters_find(sale_id=sale.pk)
    assert after["members"] == sorted(m.user_id for m in ring)
    assert ("address", 2) in _links(after)
    assert Order.objects.get(pk=won.pk).address.line1 == DROP["line1"]  # what it shipped to


def test_a_ring_the_size_of_the_rule_is_still_flagged_by_the_full_pass_after_covering_tracks(
        make_sale, make_customer):
    """Four accounts: the linking rule's threshold. The full pass that runs every minute
    (and the cases ops answer) decides on the shared address after the edits and deletions."""
    sale, ring, won = _ring_buys_one_unit(make_sale, make_customer, 4)
    _cover_tracks(ring, won)

    tasks.sales_linking()

    flagged = RiskDecision.objects.filter(sale_id=sale.pk, source="linking")
    assert set(flagged.values_list("user_id", flat=True)) == {m.user_id for m in ring}
    [cluster] = clusters_find(sale_id=sale.pk)
    assert ("address", 4) in _links(cluster)
