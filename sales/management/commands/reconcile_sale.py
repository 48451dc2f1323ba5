"""`manage.py reconcile_sale ID [--rebuild]`: compare a sale's gate with the database."""

import json

from django.core.management.base import BaseCommand, CommandError

from sales.models import FlashSale
from sales.pipeline.reconcile import sale_reconcile
from sales.services import gate_rebuild


class Command(BaseCommand):
    help = "Report drift between a sale's Redis gate and the database; --rebuild fixes the gate."

    def add_arguments(self, parser) -> None:
        parser.add_argument("sale_id", type=int)
        parser.add_argument("--rebuild", action="store_true",
                            help="rebuild the gate from the database (the record)")

    def handle(self, *args, sale_id: int, rebuild: bool, **options) -> None:
        if not FlashSale.objects.filter(pk=sale_id).exists():
            raise CommandError(f"no sale {sale_id}")
        drift = sale_reconcile(sale_id=sale_id)
        self.stdout.write(json.dumps(drift.as_dict(), indent=2, default=str))
        if rebuild:
            left, queued = gate_rebuild(sale_id=sale_id)
            self.stdout.write(self.style.SUCCESS(f"rebuilt: {left} left, {queued} queued"))
            drift = sale_reconcile(sale_id=sale_id)
        if not drift.clean:
            self.stdout.write(self.style.WARNING("drift found"))
            if not rebuild:
                raise SystemExit(1)
        else:
            self.stdout.write(self.style.SUCCESS("gate and database agree"))
