"""Paying for orders through a simulated gateway, idempotently.

The (user, Idempotency-Key) pair is a unique row created *before* the gateway is called, so
two requests with the same key can never both charge: the second one reads the first one's
answer. If the order changes under a successful charge (it expired or was cancelled while the
gateway was busy), the charge is refunded and the payer is told why.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import secrets
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import DomainError, invalid, not_found
from shop.models import Order, OrderStatus, Payment
from shop.services import order_transition

S = OrderStatus


@dataclass(frozen=True)
class ChargeResult:
    ok: bool
    reference: str
    reason: str = ""
    # The gateway's fingerprint of the instrument charged (declined or not), as Stripe's
    # card fingerprint: the same for every account that sends that instrument.
    fingerprint: str = ""


def instrument_normalize(instrument: str) -> str:
    """The instrument as the gateway reads it: width, case, spaces and dashes folded and any
    script's digits as ASCII, so '4111 1111-1111 1111' and '４１１１１１１１...' are one card."""
    text = unicodedata.normalize("NFKC", instrument or "")
    text = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)
    return re.sub(r"[\s\-]", "", text).lower()


def instrument_fingerprint(instrument: str, *, key: str | None = None) -> str:
    """HMAC-SHA256 of the normalised instrument under the gateway's own key (32 hex digits);
    "" for no instrument, so that payments without one never share a fingerprint.

    Stable across accounts (that is what ties them) and useless without the key: the store
    never needs to keep or compare raw card strings to know two accounts used one card."""
    normal = instrument_normalize(instrument)
    if not normal:
        return ""
    secret = (key or settings.PAYMENT_GATEWAY_FINGERPRINT_KEY).encode()
    return hmac.new(secret, normal.encode(), hashlib.sha256).hexdigest()[:32]


class SimulatedGateway:
    """A card gateway stand-in with configurable latency and failure rate (settings)."""

    def __init__(self, latency_ms: int | None = None, failure_rate: float | None = None) -> None:
        self.latency_ms = settings.PAYMENT_GATEWAY_LATENCY_MS if latency_ms is None else latency_ms
        self.failure_rate = (
            settings.PAYMENT_GATEWAY_FAILURE_RATE if failure_rate is None else failure_rate
        )

    def _wait(self) -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)

    def charge(self, *, key: str, amount: Decimal, instrument: str) -> ChargeResult:
        """Charge `instrument`; the answer carries its fingerprint, declined or not."""
        self._wait()
        fingerprint = instrument_fingerprint(instrument)
        if random.random() < self.failure_rate:
            return ChargeResult(ok=False, reference="", reason="card declined by the issuer",
                                fingerprint=fingerprint)
        return ChargeResult(ok=True, reference=f"ch_{secrets.token_hex(8)}",
                            fingerprint=fingerprint)

    def refund(self, *, reference: str, amount: Decimal) -> ChargeResult:
        self._wait()
        return ChargeResult(ok=True, reference=f"re_{secrets.token_hex(8)}")


def gateway() -> SimulatedGateway:
    return SimulatedGateway()


def _due(order: Order, now: datetime) -> tuple[str, Decimal, str]:
    """What paying this order now means: (purpose, amount, the status it moves to)."""
    status = order.status
    if status in (S.PAID, S.SHIPPED, S.DELIVERED):
        raise DomainError("already_paid", "This order is already paid.")
    if status in (S.EXPIRED, S.FORFEITED) or (
        status in PAYABLE_STATES and order.payment_due_at and order.payment_due_at < now
    ):
        raise DomainError(
            "payment_expired", "The payment window for this order has closed.",
            details={"payment_due_at": order.payment_due_at.isoformat()
                     if order.payment_due_at else None},
        )
    if status == S.AWAITING_PAYMENT:
        return Payment.Purpose.FULL, order.total, S.PAID
    if status == S.AWAITING_DEPOSIT:
        return Payment.Purpose.DEPOSIT, order.deposit, S.AWAITING_BALANCE
    if status == S.AWAITING_BALANCE:
        if order.balance_opens_at and now < order.balance_opens_at:
            raise DomainError(
                "not_payable", "The balance window has not opened yet.",
                details={"balance_opens_at": order.balance_opens_at.isoformat()},
            )
        return Payment.Purpose.BALANCE, order.balance_due, S.PAID
    raise DomainError("not_payable", f"An order that is {status} cannot be paid.",
                      details={"status": status})


PAYABLE_STATES = frozenset({S.AWAITING_PAYMENT, S.AWAITING_DEPOSIT, S.AWAITING_BALANCE})


def _replay(payment: Payment, order_id: int) -> Order:
    """The first answer given for an idempotency key, given again."""
    if payment.order_id != order_id:
        raise DomainError("idempotency_key_reused",
                          "This Idempotency-Key was already used for another order.")
    if payment.status == Payment.Status.PENDING:
        raise DomainError("payment_in_progress", "A payment with this key is still in progress.")
    if payment.status == Payment.Status.FAILED:
        raise DomainError("payment_failed", f"The payment failed: {payment.failure_reason}.",
                          status=402)
    if payment.status == Payment.Status.REFUNDED and payment.failure_reason:
        # Refunded because the order moved under the charge: the code order_pay gave then.
        status = Order.objects.filter(pk=order_id).values_list("status", flat=True).first()
        code = "payment_expired" if status in (S.EXPIRED, S.FORFEITED) else "not_payable"
        raise DomainError(code, payment.failure_reason, details={"status": status})
    return Order.objects.get(pk=order_id)


def order_pay(*, order_id: int, user_id: int, idempotency_key: str | None = None,
              amount: Decimal | None = None, method: str = "card", instrument: str = "",
              now: datetime | None = None) -> Order:
    """Charge what the order needs now (full price, deposit or balance) exactly once per key."""
    key = idempotency_key or f"auto-{uuid.uuid4()}"
    existing = Payment.objects.filter(user_id=user_id, idempotency_key=key).first()
    if existing:
        return _replay(existing, order_id)
    order = Order.objects.filter(pk=order_id, user_id=user_id).first()
    if order is None:
        raise not_found("order")
    now = now or timezone.now()
    purpose, due, target = _due(order, now)
    if amount is not None and amount != due:
        raise invalid(f"The amount due is {due}.", amount=[f"must be {due}"])
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                order=order, user_id=user_id, idempotency_key=key, purpose=purpose,
                amount=due, method=method, instrument=instrument,
            )
    except IntegrityError:
        return _replay(Payment.objects.get(user_id=user_id, idempotency_key=key), order_id)

    result = gateway().charge(key=key, amount=due, instrument=instrument)
    if not result.ok:
        Payment.objects.filter(pk=payment.pk).update(
            status=Payment.Status.FAILED, failure_reason=result.reason,
            fingerprint=result.fingerprint,
        )
        raise DomainError("payment_failed", f"The payment failed: {result.reason}.", status=402)

    extra = {"payment_due_at": F("balance_due_at")} if target == S.AWAITING_BALANCE else {}
    on_time = {"payment_due_at__gte": now} if order.payment_due_at else {}
    with transaction.atomic():
        # Conditional on the state we priced and on the deadline: expiry and payment racing
        # each other end in exactly one of the two.
        moved = Order.objects.filter(pk=order.pk, status=order.status, **on_time).update(
            status=target, updated_at=timezone.now(), **extra
        )
        if moved:
            Payment.objects.filter(pk=payment.pk).update(
                status=Payment.Status.SUCCEEDED, gateway_ref=result.reference,
                fingerprint=result.fingerprint,
            )
    if not moved:
        # Lost a race with expiry or cancellation while the gateway was charging: give it back.
        gateway().refund(reference=result.reference, amount=due)
        order.refresh_from_db()
        reason = f"The order became {order.status} while paying; the charge was refunded."
        Payment.objects.filter(pk=payment.pk).update(
            status=Payment.Status.REFUNDED, gateway_ref=result.reference, failure_reason=reason,
            fingerprint=result.fingerprint,
        )
        code = "payment_expired" if order.status in (S.EXPIRED, S.FORFEITED) else "not_payable"
        raise DomainError(code, reason, details={"status": order.status})
    order.refresh_from_db()
    return order


def order_refund(*, order_id: int) -> bool:
    """Refund a paid (or delivered) order through the gateway; False if it was not refundable."""
    if not order_transition(order_id=order_id, to=S.REFUNDED, expected=[S.PAID, S.DELIVERED]):
        return False
    payments_refund(order_id=order_id)
    return True


def payments_refund(*, order_id: int) -> int:
    """Give back every successful charge of an order (a refund, or a deposit of an order
    cancelled for someone else's fault); each payment is refunded once."""
    refunded = 0
    for payment in Payment.objects.filter(order_id=order_id, status=Payment.Status.SUCCEEDED):
        if Payment.objects.filter(pk=payment.pk, status=Payment.Status.SUCCEEDED).update(
                status=Payment.Status.REFUNDED):
            gateway().refund(reference=payment.gateway_ref, amount=payment.amount)
            refunded += 1
    return refunded
