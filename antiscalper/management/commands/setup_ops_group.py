"""Create or update the "ops" group with exactly the permissions ops staff need.

Add, change and view on the anti-scalper models (lists, appeals, and whatever the app adds),
but never delete: decisions, appeals and attempts are the evidence behind a cancelled order
or a block, and list entries are deactivated (kept as history), not deleted. View-only on
orders, order lines, payments, customers, addresses and flash sales. Nothing on products and
SKUs (prices are not ops' to change), nothing on users (no passwords) and nothing on the
admin log (the audit trail). Running it again resets the group to exactly this set.
Ops staff accounts are made with `create_ops_user`, which runs this first.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q

GROUP = "ops"
VIEW_ONLY = {
    "shop": ["order", "orderline", "payment", "customer", "address"],
    "sales": ["flashsale"],
}


def ops_permissions() -> list[Permission]:
    wanted = Q(content_type__app_label="antiscalper") & ~Q(codename__startswith="delete_")
    for app_label, models in VIEW_ONLY.items():
        for model in models:
            wanted |= Q(content_type__app_label=app_label, content_type__model=model,
                        codename=f"view_{model}")
    found = list(Permission.objects.filter(wanted).select_related("content_type"))
    have = {(p.content_type.app_label, p.codename) for p in found}
    missing = [f"{app}.view_{model}" for app, models in VIEW_ONLY.items() for model in models
               if (app, f"view_{model}") not in have]
    if missing or not any(p.content_type.app_label == "antiscalper" for p in found):
        raise CommandError(f"Permissions missing (run migrate first): {missing or 'antiscalper'}")
    return found


class Command(BaseCommand):
    help = "Create or update the 'ops' group with exactly the permissions ops staff need."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            group, created = Group.objects.get_or_create(name=GROUP)
            permissions = ops_permissions()
            group.permissions.set(permissions)
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} group {GROUP!r} with {len(permissions)} permissions.")
