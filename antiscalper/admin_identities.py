"""Identities as ops read them in admin: an account identity (its value is the user id) by
its username, looked up once for a whole list page."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from antiscalper import selectors
from antiscalper.models import Kind


def _account_names(objects) -> None:
    """Name the accounts of account identities (their value is the user id) in one query."""
    ids = {int(o.value) for o in objects if o.kind == Kind.ACCOUNT and o.value.isdigit()}
    names = selectors.usernames(user_ids=ids) if ids else {}
    for obj in objects:
        obj.account_name = (names.get(int(obj.value))
                            if obj.kind == Kind.ACCOUNT and obj.value.isdigit() else None)


class IdentityChangeList(ChangeList):
    def get_results(self, request) -> None:
        super().get_results(request)
        _account_names(self.result_list)


def identity_shown(obj) -> str:
    """An identity as ops read it: an account by its username, anything else as listed."""
    if obj.kind != Kind.ACCOUNT:
        return obj.value
    if not hasattr(obj, "account_name"):  # a single page, not a list
        _account_names([obj])
    name = obj.account_name
    if name:
        return gettext("%(name)s (account %(id)s)") % {"name": name, "id": obj.value}
    return gettext("account %(id)s") % {"id": obj.value}


class IdentityShown:
    """An `identity` column and read-only field: the value, an account by its username."""

    def get_changelist(self, request, **kwargs):
        return IdentityChangeList

    @admin.display(description=_("identity"), ordering="value")
    def identity(self, obj) -> str:
        return identity_shown(obj)
