"""Bulk statements for the pipeline: fast on PostgreSQL, the same rows and constraints elsewhere.

Django's bulk_create spends most of its time preparing each value of each object, and
Django's PostgreSQL cursor binds parameters on the client: a list is quoted into the SQL text
element by element in Python (about 4 us an element, measured). The pipeline writes and looks
up thousands of rows a second, so on PostgreSQL it uses a server-binding cursor on the same
connection (and transaction) instead: `%b` arrays are packed in binary by psycopg's C code,
and rows go in with `COPY ... FROM STDIN (FORMAT BINARY)`. Other databases (SQLite on a
laptop) use the ORM. Either way the rows and the constraints are the same: a duplicate ticket
still raises IntegrityError and rolls the batch back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from django.db import connection, models

# Keys per IN list on databases without arrays (older SQLite allows 999 variables).
CHUNK = 900


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def pg_cursor() -> Iterator[psycopg.Cursor]:
    """A server-binding cursor on Django's PostgreSQL connection, inside whatever transaction
    it is in; its errors are Django's (a unique violation is an IntegrityError)."""
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def units_add(model: type[models.Model], *, sale_id: int, units_by_user: dict[int, int]) -> None:
    """Add units to each buyer's row of a sale (`SaleBuyer`), creating missing rows: one
    upsert (`INSERT ... ON CONFLICT DO UPDATE`) on PostgreSQL and on SQLite alike."""
    if not units_by_user:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    users, units = list(units_by_user), list(units_by_user.values())
    if on_postgresql():
        with pg_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (sale_id, user_id, units_taken) "
                "SELECT %b, u, n FROM unnest(%b::bigint[], %b::integer[]) AS t(u, n) "
                f"ON CONFLICT (sale_id, user_id) DO UPDATE "
                f"SET units_taken = {table}.units_taken + EXCLUDED.units_taken",
                [sale_id, users, units])
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (sale_id, user_id, units_taken) VALUES (%s, %s, %s) "
            "ON CONFLICT (sale_id, user_id) DO UPDATE "
            "SET units_taken = units_taken + excluded.units_taken",
            [(sale_id, user, n) for user, n in zip(users, units, strict=True)])


def insert(model: type[models.Model], rows: list[dict],
           *, returning: tuple[str, ...] = ()) -> list[tuple]:
    """Insert `rows` (dicts of attname -> value, e.g. `user_id`); returns the `returning`
    columns of the inserted rows as tuples (match them by a unique column, not by order)."""
    if not rows:
        return []
    if not on_postgresql():
        objects = model.objects.bulk_create(model(**row) for row in rows)
        return [tuple(getattr(obj, name) for name in returning) for obj in objects]
    fields = [model._meta.get_field(name) for name in rows[0]]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    arrays = ", ".join(f"%b::{_pg_type(f)}[]" for f in fields)
    sql = (f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
           f"SELECT * FROM unnest({arrays})")
    if returning:
        sql += " RETURNING " + ", ".join(
            connection.ops.quote_name(model._meta.get_field(name).column) for name in returning)
    params = [[row[name] for row in rows] for name in rows[0]]
    with pg_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if returning else []


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: list[tuple],
                *, ids: bool = False) -> list[int]:
    """Insert `rows` (tuples of values for `columns`, attnames); with `ids`, returns their
    primary keys in the order of the rows. PostgreSQL: the keys are drawn from the table's
    sequence in one query, then every row goes in one binary COPY (no per-row statement, no
    RETURNING to match up). Elsewhere: bulk_create."""
    if not rows:
        return []
    if not on_postgresql():
        objects = model.objects.bulk_create(model(**dict(zip(columns, row, strict=True)))
                                            for row in rows)
        return [obj.pk for obj in objects] if ids else []
    meta = model._meta
    fields = [meta.get_field(name) for name in columns]
    with pg_cursor() as cursor:
        keys: list[int] = []
        if ids:
            # The sequence's name looked up once, not once per key (a plain subquery is
            # flattened into the per-row expression: 6 us a key against 1.7 us).
            cursor.execute("WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)"
                           "::regclass AS seq) SELECT nextval(s.seq) FROM s, "
                           "generate_series(1, %s)",
                           [meta.db_table, meta.pk.column, len(rows)])
            keys = [key for (key,) in cursor.fetchall()]
            fields.insert(0, meta.pk)
            rows = [(key, *row) for key, row in zip(keys, rows, strict=True)]
        names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        table = connection.ops.quote_name(meta.db_table)
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([_pg_type(f) for f in fields])
            for row in rows:
                copy.write_row(row)
    return keys


def _pg_type(field: models.Field) -> str:
    """The column's type without its modifiers, as COPY's binary format needs it exactly (no
    implicit casts): varchar(24) -> varchar, a foreign key -> its target's type."""
    kind = (field.target_field.rel_db_type(connection) if field.is_relation
            else field.db_type(connection))
    kind = re.sub(r"\(.*\)", "", kind).strip()
    return {"timestamp with time zone": "timestamptz"}.get(kind, kind)


def values_for(model: type[models.Model], key: str, keys: Sequence, columns: Sequence[str],
               **equal) -> list[tuple]:
    """(key, *columns) of the rows whose `key` is in `keys` and whose other columns equal
    `equal`: one `= ANY(%b)` with a binary array on PostgreSQL (no list quoted into the SQL
    text), the ORM's IN elsewhere."""
    if not keys:
        return []
    if not on_postgresql():
        return [row for start in range(0, len(keys), CHUNK)
                for row in model.objects.filter(**{f"{key}__in": keys[start:start + CHUNK]},
                                                **equal).values_list(key, *columns)]
    meta, quote = model._meta, connection.ops.quote_name

    def field(name: str) -> models.Field:
        return meta.pk if name == "pk" else meta.get_field(name)

    names = ", ".join(quote(field(name).column) for name in (key, *columns))
    where = [f"{quote(field(key).column)} = ANY(%b::{_pg_type(field(key))}[])"]
    where += [f"{quote(field(name).column)} = %b" for name in equal]
    with pg_cursor() as cursor:
        cursor.execute(f"SELECT {names} FROM {quote(meta.db_table)} WHERE "
                       + " AND ".join(where), [list(keys), *equal.values()])
        return cursor.fetchall()
