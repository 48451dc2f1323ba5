"""Print how long linking took to decide after an admission in a sale (p50, p99, max):
the replay's report reads the same numbers (antiscalper.latency.decision_latency)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from antiscalper.latency import decision_latency


class Command(BaseCommand):
    help = "Admission-to-decision time of linking in a sale (p50/p99, milliseconds)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("sale_id", type=int)
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="One JSON object.")

    def handle(self, *args, sale_id: int, as_json: bool = False, **options) -> None:
        found = decision_latency(sale_id=sale_id)
        if as_json:
            self.stdout.write(json.dumps(found, sort_keys=True))
            return
        self.stdout.write(
            f"sale {sale_id}: {found['decided']} admitted accounts decided by linking "
            f"({found['before_admission']} before their admission); admission -> decision "
            f"p50 {ms(found['p50_ms'])}, p99 {ms(found['p99_ms'])}, max {ms(found['max_ms'])}")


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"
