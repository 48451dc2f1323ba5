"""Helpers for the draw tests: a draw sale, entries, a drawn and loaded sale."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model

from sales import services
from sales.modes import draws, reservations
from shop.models import Order
from shop.tests.fixtures import client_for

User = get_user_model()


def enter(sale, user_ids: list[int]) -> None:
    inside = sale.reservation_opens_at + timedelta(minutes=1)
    for user_id in user_ids:
        reservations.reservation_create(sale_id=sale.pk, user_id=user_id, now=inside)


def client_of(user_id: int):
    return client_for(User.objects.get(pk=user_id))


def buy(client, sale):
    return client.post(f"/api/v1/sales/{sale.pk}/purchase", {}, format="json")


def holding(sale) -> int:
    return Order.objects.filter(sale_id=sale.pk, status__in=services.HOLDING).count()


def drawn(draw_sale, buyer_ids, *, stock: int, entrants: int, seed: str = "fixed"):
    """A draw sale with `entrants` entries (reserved in reverse id order), drawn and loaded."""
    sale = draw_sale(stock=stock)
    users = buyer_ids(entrants)
    enter(sale, list(reversed(users)))
    draw = draws.draw_run(sale_id=sale.pk, seed=seed)
    services.gate_load(sale_id=sale.pk)
    sale.refresh_from_db()
    return sale, draw, users
