"""What must hold in the database after any fault, checked the way Jepsen checks a history.

Faults (Redis restarted from an old snapshot, flushed, failed over to a lagging replica; a
database connection killed; a worker killed mid-batch) are allowed to make the sale refuse
buyers. They are never allowed to break these, whatever Redis said:

- the sale's holding orders never hold more units than its stock;
- nobody holds more units than the sale's per-user limit;
- every acknowledged ticket ends with exactly one decision in the database;
- every order that stopped holding gave its units back exactly once, and nothing else did;
- nobody is charged twice for the same thing.

Read-only, and a constant number of aggregate queries per sale (no query per order), so the
checks run after a 100k-order replay too. Each check reports what it measured, so a passing
run says "100 held of 100" rather than only "ok".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from sales.models import FCode, FlashSale, RejectedTicket, SaleBuyer, StockReturn
from sales.services import HOLDING, NOT_HOLDING
from shop.models import Order, OrderLine, Payment

OFFENDERS_SHOWN = 5
CHUNK = 500  # tickets per IN (...) query, far below SQLite's and PostgreSQL's limits


@dataclass(frozen=True)
class Invariant:
    name: str
    value: str
    met: bool
    detail: str = ""

    def __str__(self) -> str:
        state = "met" if self.met else "BROKEN"
        return f"{self.name}: {self.value} ({state}){': ' + self.detail if self.detail else ''}"


def _holding_lines(sale_id: int):
    return OrderLine.objects.filter(order__sale_id=sale_id, order__status__in=HOLDING)


def holding_within_stock(*, sale_id: int) -> Invariant:
    """The database refuses to oversell whatever the gate said: holding units <= stock."""
    stock = FlashSale.objects.values_list("stock", flat=True).get(pk=sale_id)
    held = _holding_lines(sale_id).aggregate(u=Sum("quantity"))["u"] or 0
    met = held <= stock
    return Invariant(name="holding_within_stock", value=f"{held} held of {stock}", met=met,
                     detail="" if met else f"{held - stock} units oversold")


def nobody_over_limit(*, sale_id: int) -> Invariant:
    """A gate that forgot who bought (a lost `bought` hash) must not let anyone buy again."""
    limit = FlashSale.objects.values_list("per_user_limit", flat=True).get(pk=sale_id)
    per_user = _holding_lines(sale_id).values("order__user_id").annotate(units=Sum("quantity"))
    top = per_user.order_by("-units").values_list("units", flat=True).first() or 0
    over = list(per_user.filter(units__gt=limit).order_by("-units", "order__user_id")
                .values_list("order__user_id", "units")[:OFFENDERS_SHOWN])
    detail = ""
    if over:
        count = per_user.filter(units__gt=limit).count()
        detail = f"{count} users over the limit, e.g. " + ", ".join(
            f"user {user} holds {units}" for user, units in over)
    return Invariant(name="nobody_over_limit", value=f"at most {top} per user, limit {limit}",
                     met=not over, detail=detail)


def tickets_end_once(*, sale_id: int, tickets: Iterable[str]) -> Invariant:
    """Each acknowledged (202) ticket is decided exactly once: an order or a rejection, never
    both (a unit sold and given back) and never neither (a buyer left waiting forever)."""
    wanted = list(dict.fromkeys(tickets))
    ordered: set[str] = set()
    rejected: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        ordered.update(Order.objects.filter(ticket__in=chunk).values_list("ticket", flat=True))
        rejected.update(RejectedTicket.objects.filter(ticket__in=chunk)
                        .values_list("ticket", flat=True))
    both = ordered & rejected
    missing = [t for t in wanted if t not in ordered and t not in rejected]
    confirmed, refused = len(ordered - both), len(rejected - both)
    value = (f"{len(wanted)} tickets: {confirmed} confirmed, {refused} rejected, "
             f"{len(missing)} missing, {len(both)} both")
    offenders = [f"missing {t}" for t in missing[:OFFENDERS_SHOWN]] + [
        f"both {t}" for t in sorted(both)[:OFFENDERS_SHOWN]]
    return Invariant(name="tickets_end_once", value=value, met=not missing and not both,
                     detail=", ".join(offenders))


def units_conserved(*, sale_id: int) -> Invariant:
    """Every order that stopped holding returned exactly its units once (one StockReturn of
    its lines' quantity), and no StockReturn belongs to an order that still holds: otherwise
    the gate's counter and the record drift apart with every expiry."""
    units = (OrderLine.objects.filter(order=OuterRef("pk")).values("order")
             .annotate(u=Sum("quantity")).values("u"))
    released = (Order.objects.filter(sale_id=sale_id, status__in=NOT_HOLDING)
                .annotate(units=Coalesce(Subquery(units, output_field=IntegerField()), 0)))
    unreturned = released.filter(
        Q(stock_return__isnull=True) | ~Q(stock_return__quantity=F("units")))
    stray = StockReturn.objects.filter(sale_id=sale_id).filter(
        Q(order__status__in=HOLDING) | ~Q(order__sale_id=sale_id))
    n_released, n_returns = released.count(), StockReturn.objects.filter(sale_id=sale_id).count()
    n_unreturned, n_stray = unreturned.count(), stray.count()
    offenders = [f"order {pk} ({status}) has {units} units, returned {back}"
                 for pk, status, units, back in unreturned.order_by("pk").values_list(
                     "pk", "status", "units", "stock_return__quantity")[:OFFENDERS_SHOWN]]
    offenders += [f"return {pk} of order {order} ({status}) that holds"
                  for pk, order, status in stray.order_by("pk").values_list(
                      "pk", "order_id", "order__status")[:OFFENDERS_SHOWN]]
    value = (f"{n_returns} returns for {n_released} released orders; "
             f"{n_unreturned} unreturned or wrong, {n_stray} stray")
    return Invariant(name="units_conserved", value=value, met=not n_unreturned and not n_stray,
                     detail="; ".join(offenders))


def one_charge_per_order(*, sale_id: int) -> Invariant:
    """A retried or replayed payment must not charge twice: at most one succeeded (or since
    refunded) payment per order and purpose."""
    paid = Payment.objects.filter(order__sale_id=sale_id, status__in=[
        Payment.Status.SUCCEEDED, Payment.Status.REFUNDED])
    charges = paid.values("order_id", "purpose").annotate(n=Count("id"))
    total = paid.count()
    twice = charges.filter(n__gt=1)
    offenders = list(twice.order_by("order_id", "purpose")
                     .values_list("order_id", "purpose", "n")[:OFFENDERS_SHOWN])
    count = twice.count() if offenders else 0
    return Invariant(
        name="one_charge_per_order", value=f"{total} charges, {count} orders charged twice",
        met=not offenders,
        detail=", ".join(f"order {o} {p} charged {n} times" for o, p, n in offenders))


def counters_agree(*, sale_id: int) -> Invariant:
    """The pipeline's guard trusts its counters (`FlashSale.units_taken`, `fcode_units_taken`
    and each `SaleBuyer`): each must equal units written less units given back, or the guard
    would hold the line at the wrong place."""
    sale = FlashSale.objects.get(pk=sale_id)
    lines = OrderLine.objects.filter(order__sale_id=sale_id)
    returns = StockReturn.objects.filter(sale_id=sale_id)
    coded = FCode.objects.filter(sale_id=sale_id, order__isnull=False).values("order_id")
    written = lines.aggregate(u=Sum("quantity"))["u"] or 0
    given = returns.aggregate(u=Sum("quantity"))["u"] or 0
    fwritten = lines.filter(order_id__in=coded).aggregate(u=Sum("quantity"))["u"] or 0
    fgiven = returns.filter(order_id__in=coded).aggregate(u=Sum("quantity"))["u"] or 0
    by_user = dict(lines.values("order__user_id").annotate(u=Sum("quantity"))
                   .values_list("order__user_id", "u"))
    for user, units in (returns.values("order__user_id").annotate(u=Sum("quantity"))
                        .values_list("order__user_id", "u")):
        by_user[user] = by_user.get(user, 0) - units
    rows = dict(SaleBuyer.objects.filter(sale_id=sale_id).values_list("user_id", "units_taken"))
    off = sorted(user for user in set(by_user) | set(rows)
                 if by_user.get(user, 0) != rows.get(user, 0))
    met = (sale.units_taken, sale.fcode_units_taken) == (written - given, fwritten - fgiven) \
        and not off
    return Invariant(name="counters_agree",
                     value=f"{sale.units_taken} taken by the counter, {written - given} by the "
                           f"orders; {len(off)} buyers off", met=met,
                     detail="" if met else f"F-code {sale.fcode_units_taken} vs "
                                           f"{fwritten - fgiven}; buyers {off[:OFFENDERS_SHOWN]}")


def sale_invariants(*, sale_id: int, tickets: Iterable[str] | None = None) -> list[Invariant]:
    """Every invariant of one sale; tickets_end_once only when the acknowledged tickets are
    known (a replay or a test collects them from the 202 answers)."""
    checks = [holding_within_stock(sale_id=sale_id), nobody_over_limit(sale_id=sale_id)]
    if tickets is not None:
        checks.append(tickets_end_once(sale_id=sale_id, tickets=tickets))
    checks += [units_conserved(sale_id=sale_id), one_charge_per_order(sale_id=sale_id),
               counters_agree(sale_id=sale_id)]
    return checks


def all_sales_invariants(*, sale_ids: Iterable[int],
                         tickets_by_sale: dict[int, Iterable[str]] | None = None
                         ) -> list[Invariant]:
    """The invariants of several sales, each named after its sale ("sale 7: ...")."""
    tickets_by_sale = tickets_by_sale or {}
    return [
        Invariant(name=f"sale {sale_id}: {check.name}", value=check.value, met=check.met,
                  detail=check.detail)
        for sale_id in sale_ids
        for check in sale_invariants(sale_id=sale_id, tickets=tickets_by_sale.get(sale_id))
    ]


def broken(invariants: Iterable[Invariant]) -> list[Invariant]:
    return [check for check in invariants if not check.met]
