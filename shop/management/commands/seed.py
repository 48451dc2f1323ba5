"""`manage.py seed`: the demo catalog and N customers, idempotent, with a progress bar."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from shop.seeding import DEMO_PASSWORD, seed_catalog, seed_customers


class Command(BaseCommand):
    help = "Create the demo catalog and N customers (fan000001...) with fan levels and addresses."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customers", type=int, default=1000)
        parser.add_argument("--batch", type=int, default=2000)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, customers: int, batch: int, no_progress: bool, **options) -> None:
        skus = seed_catalog()
        with tqdm(total=customers, desc="customers", unit="cust", disable=no_progress,
                  file=self.stdout._out) as bar:
            made = seed_customers(count=customers, batch=batch, progress=bar.update)
        self.stdout.write(self.style.SUCCESS(
            f"catalog: {skus} new SKU(s); customers: {made} new of {customers} "
            f"(password for every seeded shopper: {DEMO_PASSWORD})"
        ))
