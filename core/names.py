"""What a record is called on the pages people read: a username where a row keeps only a
user id, so an admin page's title says "li_lei took 1 of ..." rather than "4172 took 1".

A record's `__str__` is what Django's admin puts in its detail title, breadcrumbs and delete
confirmations; those are one record at a time, so one lookup here costs one small query
there, and lists never call it (they show columns that read names in the list's query).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model


def username_of(user_id: int | None) -> str:
    """The account's username, or "account <id>" for one deleted since (ids are kept)."""
    if user_id is None:
        return "no account"
    name = get_user_model().objects.filter(pk=user_id).values_list("username", flat=True).first()
    return name or f"account {user_id}"
