"""What a record is called on the pages people read: a username where a row keeps only a
user id, so an admin page's title says "li_lei took 1 of ..." rather than "4172 took 1".

A record's `__str__` is what Django's admin puts in its detail title, breadcrumbs and delete
confirmations. A delete confirmation names every record that goes with a sale or an account
(thousands of buyers, reminders, order lines), so a name never costs a query of its own: it
reads the rows the query that read the record loaded (`named`, `account_named`), and says
"sale 3" or "account 4172" for those it did not. The admin's record pages load them in
their own query (`NamesLoaded`), as their lists do.
"""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist


def loaded(record, relation: str):
    """The row `record` points to through `relation` when the query that read `record` loaded
    it too (select_related, or the row Django's delete collector reached it from), else None."""
    try:
        field = record._meta.get_field(relation)
    except FieldDoesNotExist:
        return None
    return getattr(record, relation) if field.is_cached(record) else None


def named(record, relation: str, attribute: str, fallback: str) -> str:
    """`record.<relation>.<attribute>` when that row is loaded, else `fallback`."""
    row = loaded(record, relation)
    return fallback if row is None else str(getattr(row, attribute))


def account_named(record) -> str:
    """The record's account by username: its `user` row when loaded, else a `username` its
    query annotated, else "account <id>" (also for an account deleted since: ids are kept)."""
    user = loaded(record, "user")
    name = user.username if user is not None else getattr(record, "username", None)
    return name or f"account {record.user_id}"


class NamesLoaded:
    """An admin whose record pages (change, history, delete) read in the record's own query
    the rows its name names, as its list does (`list_select_related`). Mixed in before the
    admin it extends."""

    def get_queryset(self, request):
        related = self.list_select_related
        queryset = super().get_queryset(request)
        return queryset.select_related(*related) if isinstance(related, (list, tuple)) \
            else queryset
