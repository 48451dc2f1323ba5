"""A chaos run's verdict: wait (bounded) until the gate is rebuilt and the queue drained, then
check the invariants of `sales.invariants` on the record, with the tickets the shoppers were
acknowledged, and count what the faults cost (503s, stale-gate and lost tickets)."""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path

import redis
from django.contrib.auth import get_user_model
from django.db import connection

from core.errors import DomainError
from loadtests.double11.chaos import Fault
from loadtests.double11.evidence import errors_at_load, labels_load
from sales import invariants, services
from sales.gate import holdings
from sales.invariants import Invariant
from sales.models import FlashSale, RejectedTicket
from sales.pipeline.orders import STALE_GATE_REASONS
from shop.models import Order

SETTLE_TIMEOUT_S = 90.0
AFTER_FAULT_S = 5.0     # 503s this long after a fault ends are counted as its cost


def acknowledged(out_dir: Path, *, sale_id: int | None = None) -> dict[str, int]:
    """ticket -> buyer, for every purchase the shoppers saw answered 202 (in `sale_id` only,
    when given: a ticket starts with its sale's id, and the deposit pre-sale beside the rush
    has tickets of its own that the rush's counts must not take in)."""
    labels, _ = labels_load(out_dir)
    ids = dict(get_user_model().objects.filter(username__in=list(labels))
               .values_list("username", "id"))
    return {ticket: ids[username] for username, label in labels.items() if username in ids
            for ticket in label.get("tickets", [])
            if sale_id is None or ticket.startswith(f"{sale_id}-")}


def _rowless(tickets: dict[str, int]) -> dict[str, int]:
    names = list(tickets)
    known: set[str] = set()
    for start in range(0, len(names), 500):
        chunk = names[start:start + 500]
        known.update(Order.objects.filter(ticket__in=chunk).values_list("ticket", flat=True))
        known.update(RejectedTicket.objects.filter(ticket__in=chunk)
                     .values_list("ticket", flat=True))
    return {t: user for t, user in tickets.items() if t not in known}


def lost_with_redis(tickets: dict[str, int]) -> tuple[set[str], dict[str, str]]:
    """Of the tickets with no row, those the API answers rejected `gate_lost` (Redis forgot
    them with their queue entry), and what it answers for the others."""
    lost, other = set(), {}
    for ticket, user in _rowless(tickets).items():
        try:
            status = services.ticket_resolve(ticket=ticket, user_id=user)
        except DomainError as error:
            other[ticket] = error.code
            continue
        except redis.RedisError as error:
            other[ticket] = type(error).__name__
            continue
        if status.status == "rejected" and status.reason == "gate_lost":
            lost.add(ticket)
        else:
            other[ticket] = status.status
    return lost, other


def settle(*, sale_id: int, tickets: dict[str, int], timeout: float = SETTLE_TIMEOUT_S,
           say=print) -> dict:
    """Block until the gate is loaded on the dataset Redis holds now, its queue is empty and
    every acknowledged ticket is decided (or lost with Redis), or the time is up."""
    began = time.monotonic()
    state = None
    while True:
        try:
            state = holdings.state(sale_id=sale_id)
            back = state.loaded and state.dataset == state.current_dataset
            open_tickets = len(lost_with_redis(tickets)[1]) if back else len(tickets)
        except redis.RedisError:
            back, open_tickets = False, len(tickets)
        done = back and not state.queued and not open_tickets
        waited = round(time.monotonic() - began, 1)
        if done or waited > timeout:
            return {"settled": done, "waited_s": waited, "gate_back": back,
                    "queued": state.queued if state else None, "tickets_open": open_tickets}
        if int(waited) % 5 == 0:
            say(f"chaos: waiting for the gate and the queue to settle ({waited:.0f} s; gate "
                f"{'back' if back else 'not back'}, queue {state.queued if state else '?'}, "
                f"{open_tickets} tickets open)")
        time.sleep(1.0)


def _unavailable_during(fault_list: list[Fault], errors_at: list[list], t0: float) -> None:
    """Each fault's count of 503s (by code) from its start until AFTER_FAULT_S after its end,
    or the next fault's start."""
    starts = [f.done_s if f.done_s is not None else f.at_s for f in fault_list]
    for n, fault in enumerate(fault_list):
        begin = starts[n]           # (a restart's snapshot cost nothing; the restart did)
        end = max(begin, fault.until_s or begin) + AFTER_FAULT_S
        if n + 1 < len(fault_list):
            end = min(end, starts[n + 1])
        counts: Counter = Counter()
        for second, status, code, count in errors_at:
            # a whole second belongs to the fault live at its middle (windows do not overlap)
            if begin <= second + 0.5 - t0 < end and status == 503:
                counts[code] += count
        fault.details["503_after"] = dict(counts)


def chaos_verdict(*, sale_id: int, t0: float, out_dir: Path, fault_list: list[Fault],
                  seed: int, settled: dict, tickets: dict[str, int]) -> dict:
    """The invariants table and the fault timeline the report shows."""
    lost, other = lost_with_redis(tickets)
    checks = invariants.sale_invariants(
        sale_id=sale_id, tickets=[t for t in tickets if t not in lost])
    for n, check in enumerate(checks):
        if check.name == "tickets_end_once":
            unknown = ", ".join(f"{t} {a}" for t, a in list(other.items())[:5])
            checks[n] = Invariant(
                name=check.name, met=check.met,
                value=f"{len(tickets)} acknowledged; {check.value}; {len(lost)} more rejected "
                      f"gate_lost (no row: lost with Redis)",
                detail="; ".join(filter(None, [check.detail, unknown])))
    ran = [f for f in fault_list if f.ok]
    checks.append(Invariant(name="faults_injected", value=f"{len(ran)} of {len(fault_list)}",
                            met=len(ran) == len(fault_list) and bool(fault_list),
                            detail=", ".join(f"{f.kind}: {f.details.get('error')}"
                                             for f in fault_list if not f.ok)))
    checks.append(Invariant(
        name="gate_back_and_queue_drained",
        value=f"after {settled['waited_s']} s: gate {'back' if settled['gate_back'] else 'lost'}"
              f", queue {settled['queued']}, {settled['tickets_open']} tickets open",
        met=settled["settled"]))
    errors_at = errors_at_load(out_dir)
    _unavailable_during(fault_list, errors_at, t0)
    per_code: dict[str, Counter] = {}
    for second, status, code, count in errors_at:
        if status == 503:
            per_code.setdefault(f"503 {code}", Counter())[math.floor(second - t0)] += count
    rejected = Counter(RejectedTicket.objects.filter(sale_id=sale_id)
                       .values_list("reason", flat=True))
    sale = FlashSale.objects.get(pk=sale_id)
    unavailable = sum(n for _, status, code, n in errors_at
                      if status == 503 and code == "unavailable")
    return {
        "seed": seed,
        "database": connection.vendor,
        "faults": [f.as_dict() for f in fault_list],
        "invariants": [{"invariant": c.name, "value": c.value, "met": c.met,
                        "detail": c.detail} for c in checks],
        "broken": [c.name for c in invariants.broken(checks)],
        "counts": {
            "acknowledged_tickets": len(tickets),
            "admitted_by_stale_gate": sum(rejected.get(r, 0) for r in STALE_GATE_REASONS),
            "rejected_gate_rebuilt": rejected.get("gate_rebuilt", 0),
            "rejected_gate_lost": len(lost),
            "unavailable_503": unavailable,
            "gate_epoch": sale.gate_epoch,
            "gate_rebuilt_at": sale.gate_rebuilt_at.isoformat() if sale.gate_rebuilt_at
            else None},
        "settle": settled,
        "checked_s": round(time.time() - t0, 2),
        "errors_per_s": {code: _per_second(seconds) for code, seconds in per_code.items()},
    }


def _per_second(counts: Counter) -> list[list[float]]:
    """A count per whole second, with the quiet seconds in between as zeros."""
    first, last = int(min(counts)), int(max(counts))
    return [[t, counts.get(t, 0)] for t in range(first - 1, last + 2)]


def summary_lines(c: dict) -> list[str]:
    lines = [f"Chaos (seed {c['seed']}, {c['database']}): faults"]
    for f in c["faults"]:
        at = f["done_s"] if f["done_s"] is not None else f["at_s"]
        lines.append(f"  T{at:+7.2f}s {f['label']:22} {'done' if f['ok'] else 'FAILED':6} "
                     f"{ {k: v for k, v in f['details'].items()} }")
    counts = c["counts"]
    lines.append(f"  admitted by a stale gate {counts['admitted_by_stale_gate']}   rejected "
                 f"gate_rebuilt {counts['rejected_gate_rebuilt']}   gate_lost "
                 f"{counts['rejected_gate_lost']}   503 unavailable {counts['unavailable_503']}"
                 f"   gate epoch {counts['gate_epoch']} (rebuilt at {counts['gate_rebuilt_at']})")
    lines.append("Invariants:" + ("" if not c["broken"] else
                                  f"  BROKEN: {', '.join(c['broken'])}"))
    for row in c["invariants"]:
        verdict = "met" if row["met"] else "BROKEN"
        detail = f" -- {row['detail']}" if row["detail"] else ""
        lines.append(f"  {verdict:6} {row['invariant']}: {row['value']}{detail}")
    return lines
