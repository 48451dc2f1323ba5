"""Batches in and out of the database: Within matches what `__in` matches, rows_insert
stores what bulk_create stores, conflicts included."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db.models import F

from antiscalper.bulk import Within, rows_insert
from antiscalper.models import AttemptSignal, RiskDecision

pytestmark = pytest.mark.django_db

AWKWARD = ['plain', 'a"quote', "back\\slash", "x,y}", "{brace", "", "NULL", "spa ce",
           "ünïcødé 设备", "'single'", "tab\there", "a" * 64]
FIELDS = ("sale_id", "user_id", "kind", "at", "ms_since_open", "device", "ip", "subnet",
          "user_agent", "headers", "reserved", "verdict", "ticket", "address_id")


def _row(n: int, device: str) -> tuple:
    return (7, n, "purchase", datetime(2026, 11, 11, 0, 0, n % 60, 123456, tzinfo=UTC), n,
            device, "10.0.0.1", "10.0.0.0/24", "agent", json.dumps({"accept": device}),
            n % 2 == 0, "admitted", f"t-{n}", None if n % 3 else n)


def test_rows_insert_stores_what_bulk_create_stores():
    rows = [_row(n, device) for n, device in enumerate(AWKWARD)]
    rows_insert(AttemptSignal, FIELDS, rows)
    AttemptSignal.objects.bulk_create([
        AttemptSignal(**dict(zip(FIELDS, (8, *row[1:9], json.loads(row[9]), *row[10:]),
                                 strict=True))) for row in rows])
    mine, theirs = (list(AttemptSignal.objects.filter(sale_id=sale).order_by("id")
                         .values_list(*FIELDS[1:])) for sale in (7, 8))
    assert mine == theirs and len(mine) == len(AWKWARD)


def test_within_finds_what_in_finds():
    rows_insert(AttemptSignal, FIELDS, [_row(n, device) for n, device in enumerate(AWKWARD)])
    for values in (AWKWARD, AWKWARD[1:4], ["missing", "a"]):
        found = set(AttemptSignal.objects.filter(Within(F("device"), values))
                    .values_list("id", flat=True))
        assert found == set(AttemptSignal.objects.filter(device__in=values)
                            .values_list("id", flat=True))
    assert set(AttemptSignal.objects.filter(Within(F("user_id"), [1, 3, 99]))
               .values_list("user_id", flat=True)) == {1, 3}
    assert not AttemptSignal.objects.filter(Within(F("user_id"), [])).exists()


def test_a_conflicting_row_is_skipped_and_the_others_stored(customer):
    fields = ("sale_id", "user", "ticket", "source", "device", "ip", "score", "decision",
              "reason", "rules", "review_status", "created_at")
    now = datetime(2026, 11, 11, tzinfo=UTC)

    def row(ticket: str, reason: str) -> tuple:
        return (1, customer.user_id, ticket, "realtime", "", "", 1.5, "allow", reason,
                json.dumps([{"code": "x"}]), "open", now)

    rows_insert(RiskDecision, fields, [row("t1", "first")], ignore_conflicts=True)
    rows_insert(RiskDecision, fields, [row("t1", "again"), row("t2", "new")],
                ignore_conflicts=True)
    assert dict(RiskDecision.objects.values_list("ticket", "reason")) == {
        "t1": "first", "t2": "new"}
    assert RiskDecision.objects.get(ticket="t2").rules == [{"code": "x"}]
