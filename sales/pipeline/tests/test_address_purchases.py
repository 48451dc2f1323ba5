"""A purchase delivers to an address the buyer holds: a deleted address, or an id an edit
replaced, is refused for any purchase admitted after it left the book (`address_invalid`,
the unit back on sale); a purchase admitted before keeps it, shipped to the text it was
bought for."""

from __future__ import annotations

from sales import services
from sales.gate import holdings
from sales.gate.admission import Purchase
from sales.models import RejectedTicket
from sales.pipeline import orders as pipeline
from shop import address_book
from shop.models import Address, Order


def _buy(sale, user_id: int, address_id: int) -> str:
    return services.purchase_admit(purchase=Purchase(
        sale_id=sale.pk, user_id=user_id, address_id=address_id)).ticket


def test_a_deleted_address_is_never_purchasable(live_sale, make_customer):
    customer = make_customer()
    address = customer.addresses.get()
    address_book.address_delete(user_id=customer.user_id, address_id=address.pk)
    ticket = _buy(live_sale, customer.user_id, address.pk)
    pipeline.drain(sale_id=live_sale.pk)
    assert RejectedTicket.objects.get(ticket=ticket).reason == "address_invalid"
    assert not Order.objects.filter(ticket=ticket).exists()
    assert holdings.stock_left(sale_id=live_sale.pk) == live_sale.stock


def test_the_id_an_edit_replaced_is_refused_and_the_new_one_buys(live_sale, make_customer):
    customer = make_customer()
    old = customer.addresses.get()
    new = address_book.address_update(user_id=customer.user_id, address_id=old.pk,
                                      line1="1 New Road")
    stale = _buy(live_sale, customer.user_id, old.pk)
    pipeline.drain(sale_id=live_sale.pk)
    assert RejectedTicket.objects.get(ticket=stale).reason == "address_invalid"
    fresh = _buy(live_sale, customer.user_id, new.pk)
    pipeline.drain(sale_id=live_sale.pk)
    assert Order.objects.get(ticket=fresh).address.line1 == "1 New Road"


def test_a_purchase_admitted_before_an_edit_keeps_the_text_it_was_bought_for(
        live_sale, make_customer):
    """The shopper edits (or deletes) the address while the ticket waits in the queue: the
    order is written, and it points to the version that was chosen, word for word."""
    customer = make_customer()
    address = customer.addresses.get()
    bought_for = address.line1
    ticket = _buy(live_sale, customer.user_id, address.pk)
    edited = address_book.address_update(user_id=customer.user_id, address_id=address.pk,
                                         line1="Somewhere else")
    address_book.address_delete(user_id=customer.user_id, address_id=edited.pk)
    pipeline.drain(sale_id=live_sale.pk)
    order = Order.objects.get(ticket=ticket)
    assert (order.address_id, order.address.line1) == (address.pk, bought_for)
    assert Address.objects.get(pk=address.pk).deleted_at is not None
