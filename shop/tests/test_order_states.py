"""The order state machine: every allowed move happens, every other one is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import DomainError
from shop import services
from shop.models import OrderStatus
from shop.services import TRANSITIONS

S = OrderStatus
ALLOWED = sorted((source, target) for source, targets in TRANSITIONS.items()
                 for target in targets)  # sorted: the same order in every process
FORBIDDEN = [(source, target) for source in S.values for target in S.values
             if target not in TRANSITIONS[source]]


def test_the_state_machine_covers_every_status_and_terminal_states_go_nowhere():
    assert set(TRANSITIONS) == set(S.values)
    for terminal in (S.CANCELLED, S.EXPIRED, S.FORFEITED, S.REFUNDED):
        assert TRANSITIONS[terminal] == frozenset()


@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_an_allowed_transition_moves_the_order(make_order, customer, source, target):
    order = make_order(user=customer.user, status=source)
    assert services.order_transition(order_id=order.id, to=target, expected=[source]) is True
    order.refresh_from_db()
    assert order.status == target


@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_an_allowed_transition_happens_only_once(make_order, customer, source, target):
    order = make_order(user=customer.user, status=source)
    assert services.order_transition(order_id=order.id, to=target)
    assert services.order_transition(order_id=order.id, to=target, expected=[source]) is False


@pytest.mark.parametrize(("source", "target"), FORBIDDEN)
def test_a_forbidden_transition_leaves_the_order_alone(make_order, customer, source, target):
    order = make_order(user=customer.user, status=source)
    assert services.order_transition(order_id=order.id, to=target) is False
    with pytest.raises(ValueError):
        services.order_transition(order_id=order.id, to=target, expected=[source])
    order.refresh_from_db()
    assert order.status == source


def test_a_transition_respects_extra_conditions(order):
    moved = services.order_transition(order_id=order.id, to=S.EXPIRED,
                                      payment_due_at__lt=timezone.now())
    assert moved is False
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT


@pytest.mark.parametrize("status", [S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT])
def test_a_customer_cancels_an_unpaid_order(make_order, customer, status):
    order = make_order(user=customer.user, status=status)
    cancelled = services.order_cancel(order_id=order.id, user_id=customer.user_id)
    assert cancelled.status == S.CANCELLED


@pytest.mark.parametrize("status", [s for s in S.values
                                    if s not in (S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT)])
def test_an_order_past_the_unpaid_stage_cannot_be_cancelled_by_its_customer(
        make_order, customer, status):
    order = make_order(user=customer.user, status=status)
    with pytest.raises(DomainError) as caught:
        services.order_cancel(order_id=order.id, user_id=customer.user_id)
    assert (caught.value.code, caught.value.status) == ("not_cancellable", 409)
    assert caught.value.details == {"status": status}
    order.refresh_from_db()
    assert order.status == status


def test_nobody_can_cancel_someone_elses_order(order, make_customer):
    stranger = make_customer()
    with pytest.raises(DomainError) as caught:
        services.order_cancel(order_id=order.id, user_id=stranger.user_id)
    assert caught.value.code == "not_found"
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT


@pytest.mark.parametrize(("service", "source", "target"), [
    (services.order_ship, S.PAID, S.SHIPPED),
    (services.order_deliver, S.SHIPPED, S.DELIVERED),
    (services.order_admin_cancel, S.AWAITING_PAYMENT, S.CANCELLED),
    (services.order_admin_cancel, S.AWAITING_DEPOSIT, S.CANCELLED),
])
def test_ops_services_move_orders_from_the_right_state(make_order, customer, service, source,
                                                       target):
    order = make_order(user=customer.user, status=source)
    assert service(order_id=order.id) is True
    order.refresh_from_db()
    assert order.status == target


@pytest.mark.parametrize(("service", "source"), [
    (services.order_ship, S.AWAITING_PAYMENT),
    (services.order_ship, S.SHIPPED),
    (services.order_deliver, S.PAID),
    (services.order_deliver, S.DELIVERED),
    (services.order_admin_cancel, S.AWAITING_BALANCE),
    (services.order_admin_cancel, S.PAID),
])
def test_ops_services_refuse_orders_in_the_wrong_state(make_order, customer, service, source):
    order = make_order(user=customer.user, status=source)
    assert service(order_id=order.id) is False
    order.refresh_from_db()
    assert order.status == source


@pytest.mark.parametrize("status", [S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT])
def test_an_unpaid_order_expires_once_its_deadline_has_passed(make_order, customer, status):
    order = make_order(user=customer.user, status=status, due_in=-timedelta(seconds=1))
    assert services.order_expire(order_id=order.id) is True
    order.refresh_from_db()
    assert order.status == S.EXPIRED


def test_an_order_does_not_expire_before_its_deadline(order):
    assert services.order_expire(order_id=order.id) is False
    assert services.order_expire(order_id=order.id, now=order.payment_due_at) is False
    order.refresh_from_db()
    assert order.status == S.AWAITING_PAYMENT


@pytest.mark.parametrize("status", [S.PAID, S.AWAITING_BALANCE, S.CANCELLED])
def test_only_unpaid_orders_expire(make_order, customer, status):
    order = make_order(user=customer.user, status=status, due_in=-timedelta(hours=1))
    assert services.order_expire(order_id=order.id) is False
    order.refresh_from_db()
    assert order.status == status


def test_an_unpaid_balance_is_forfeited_after_its_deadline(make_order, customer):
    order = make_order(user=customer.user, status=S.AWAITING_BALANCE,
                       due_in=-timedelta(minutes=1))
    assert services.order_forfeit(order_id=order.id) is True
    order.refresh_from_db()
    assert order.status == S.FORFEITED


def test_a_balance_is_not_forfeited_before_its_deadline(make_order, customer):
    order = make_order(user=customer.user, status=S.AWAITING_BALANCE, due_in=timedelta(days=1))
    assert services.order_forfeit(order_id=order.id) is False
    later = timezone.now() + timedelta(days=2)
    assert services.order_forfeit(order_id=order.id, now=later) is True


@pytest.mark.parametrize("status", [S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT, S.PAID])
def test_only_balance_orders_are_forfeited(make_order, customer, status):
    order = make_order(user=customer.user, status=status, due_in=-timedelta(hours=1))
    assert services.order_forfeit(order_id=order.id) is False
    order.refresh_from_db()
    assert order.status == status
