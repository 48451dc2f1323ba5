"""Bulk inserts for the pipeline: one `INSERT ... SELECT FROM unnest(arrays)` on PostgreSQL.

Django's bulk_create spends most of its time preparing each value of each object; the
pipeline writes thousands of orders a second, so on PostgreSQL it sends each column as one
array instead. Other databases (SQLite on a laptop) use bulk_create. Either way the rows and
the constraints are the same: a duplicate ticket still raises IntegrityError.
"""

from __future__ import annotations

from django.db import connection, models

# Model field type -> PostgreSQL array type for unnest().
_PG_TYPES = {
    "CharField": "varchar", "BigAutoField": "bigint", "ForeignKey": "bigint",
    "PositiveBigIntegerField": "bigint", "PositiveIntegerField": "integer",
    "DecimalField": "numeric", "DateTimeField": "timestamptz",
}


def units_add(model: type[models.Model], *, sale_id: int, units_by_user: dict[int, int]) -> None:
    """Add units to each buyer's row of a sale (`SaleBuyer`), creating missing rows: one
    upsert (`INSERT ... ON CONFLICT DO UPDATE`) on PostgreSQL and on SQLite alike."""
    if not units_by_user:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    users, units = list(units_by_user), list(units_by_user.values())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} (sale_id, user_id, units_taken) "
                "SELECT %s, u, n FROM unnest(%s::bigint[], %s::integer[]) AS t(u, n) "
                f"ON CONFLICT (sale_id, user_id) DO UPDATE "
                f"SET units_taken = {table}.units_taken + EXCLUDED.units_taken",
                [sale_id, users, units])
        else:
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
    if connection.vendor != "postgresql":
        objects = model.objects.bulk_create(model(**row) for row in rows)
        return [tuple(getattr(obj, name) for name in returning) for obj in objects]
    fields = [model._meta.get_field(name) for name in rows[0]]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    arrays = ", ".join(f"%s::{_PG_TYPES[f.get_internal_type()]}[]" for f in fields)
    sql = (f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
           f"SELECT * FROM unnest({arrays})")
    if returning:
        sql += " RETURNING " + ", ".join(
            connection.ops.quote_name(model._meta.get_field(name).column) for name in returning)
    params = [[row[name] for row in rows] for name in rows[0]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if returning else []
