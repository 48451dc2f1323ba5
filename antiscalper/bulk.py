"""The database in batches of thousands: rows written as plain tuples (COPY on PostgreSQL,
executemany elsewhere) and IN lists of thousands of values sent as one parameter (`Within`).

The risk engine writes an AttemptSignal row per attempt and a RiskDecision row per ticket
during the rush. `bulk_create` builds a model instance per row and, on PostgreSQL, Django's
client-side binding quotes every value of its UNNEST arrays in Python: about 120 us of CPU
per AttemptSignal row, against about 8 us for COPY of the same tuple (measured side by side,
loadtests/risk_bench.py). Rows are values in the columns' order, ready for the database:
aware datetimes, JSON already encoded as text.

The risk engine also reads its facts for a batch's two thousand accounts: `field__in=ids`
makes Django compile a placeholder per value (about 12 us each) and psycopg quote and split
them again, while `Within(F("field"), ids)` passes the list as one text: an array literal on
PostgreSQL, a JSON array on SQLite (`IN (SELECT value FROM json_each(%s))`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError, connection, transaction
from django.db.models import Lookup, Model

_CONTROL = re.compile(r"[\x00-\x1f]")


def _array_literal(values: list) -> tuple[str, str]:
    """(PostgreSQL array literal, its element type) for ints or strings. JSON quotes a
    string as an array literal does (`"`, `\\`) unless it holds control characters,
    which JSON writes as escapes the literal does not know."""
    if isinstance(values[0], int):
        return "{" + json.dumps(values)[1:-1] + "}", "bigint"
    if not _CONTROL.search("".join(values)):
        return "{" + json.dumps(values, ensure_ascii=False)[1:-1] + "}", "text"
    quoted = (str(v).replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}", "text"


class Within(Lookup):
    """`lhs IN values` with `values` as one text parameter; the values must already be of
    the column's type (ints for ids, str for text), as nothing converts them. On PostgreSQL
    it is an array literal (`= ANY('{...}'::text[])`): a constant, so the planner knows its
    size and hashes it, as it does the constants of an IN list (a list parameter would be
    quoted by psycopg in Python, 4 us a string; an array built by a subquery is searched
    element by element, a second per query over an unindexed column)."""

    lookup_name = "within"  # used as an expression, never registered on a field
    prepare_rhs = False

    def get_prep_lookup(self):
        return list(self.rhs)

    def as_sql(self, compiler, connection):
        if not self.rhs:
            raise EmptyResultSet  # as `field__in=[]`: no query at all
        lhs, params = self.process_lhs(compiler, connection)
        if connection.vendor == "postgresql":
            literal, typed = _array_literal(self.rhs)
            return f"{lhs} = ANY(%s::{typed}[])", [*params, literal]
        return f"{lhs} IN (SELECT value FROM json_each(%s))", [*params, json.dumps(self.rhs)]


def _columns(model: type[Model], fields: Sequence[str]) -> tuple[str, str]:
    meta = model._meta
    quote = connection.ops.quote_name
    names = ", ".join(quote(meta.get_field(name).column) for name in fields)
    return quote(meta.db_table), names


def _values_insert(model: type[Model], fields: Sequence[str], rows: list[tuple], *,
                   ignore_conflicts: bool) -> None:
    """executemany of one INSERT: SQLite binds each row in C; datetimes as Django stores them."""
    table, names = _columns(model, fields)
    timed = [n for n, name in enumerate(fields)
             if model._meta.get_field(name).get_internal_type() == "DateTimeField"]
    if timed and connection.vendor == "sqlite":
        adapt = connection.ops.adapt_datetimefield_value
        rows = [tuple(adapt(v) if n in timed else v for n, v in enumerate(row)) for row in rows]
    statement = "INSERT INTO" if not ignore_conflicts else (
        "INSERT OR IGNORE INTO" if connection.vendor == "sqlite" else "INSERT INTO")
    tail = " ON CONFLICT DO NOTHING" if ignore_conflicts and connection.vendor != "sqlite" \
        else ""
    placeholders = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.executemany(f"{statement} {table} ({names}) VALUES ({placeholders}){tail}", rows)


def _copy(model: type[Model], fields: Sequence[str], rows: list[tuple]) -> None:
    table, names = _columns(model, fields)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def rows_insert(model: type[Model], fields: Sequence[str], rows: list[tuple], *,
                ignore_conflicts: bool = False) -> None:
    """Insert `rows` (tuples of `fields`' values). With `ignore_conflicts`, a row that breaks a
    unique constraint is skipped, as bulk_create(ignore_conflicts=True) skips it: on
    PostgreSQL the COPY runs in a savepoint and, should a row conflict (a race the caller's
    own check did not see), the batch is inserted again with ON CONFLICT DO NOTHING."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        _values_insert(model, fields, rows, ignore_conflicts=ignore_conflicts)
        return
    if not ignore_conflicts:
        _copy(model, fields, rows)
        return
    try:
        with transaction.atomic():
            _copy(model, fields, rows)
    except IntegrityError:
        _values_insert(model, fields, rows, ignore_conflicts=True)
