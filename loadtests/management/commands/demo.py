"""`manage.py demo`: migrate, seed, start web + Celery on the embedded defaults, print the URLs."""

import secrets
import urllib.request

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from loadtests.smoke import purchase_round_trip
from loadtests.stack import Stack
from shop.seeding import DEMO_PASSWORD


def ensure_ops_admin() -> tuple[str, str | None]:
    """An `ops` superuser for the demo; its password is new and printed only when created."""
    user_model = get_user_model()
    if user_model.objects.filter(username="ops").exists():
        return "ops", None
    password = secrets.token_urlsafe(12)
    user_model.objects.create_superuser("ops", email="ops@example.com", password=password)
    return "ops", password


class Command(BaseCommand):
    help = "Set up and run the demo store; --smoke starts it, checks it answers, and stops."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customers", type=int, default=2000)
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--smoke", action="store_true", help="start, probe, stop (for CI)")

    def handle(self, *args, customers: int, port: int, smoke: bool, **opts) -> None:
        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)
        call_command("seed", customers=customers)
        username, password = ensure_ops_admin()
        stack = Stack(port=port, web_workers=2)
        with stack:
            stack.wait_ready()
            base = stack.url
            self.stdout.write(self.style.SUCCESS("\nThe flash-sale store is up:"))
            self.stdout.write(f"  API docs (Swagger UI)  {base}/api/v1/docs/")
            self.stdout.write(f"  OpenAPI schema         {base}/api/v1/schema/")
            self.stdout.write(f"  API root               {base}/api/v1/")
            self.stdout.write(f"  Django admin           {base}/admin/  user {username}"
                              + (f" password {password}" if password else " (password as set)"))
            self.stdout.write(f"  seeded shoppers        fan000001..  password {DEMO_PASSWORD}")
            if smoke:
                with urllib.request.urlopen(f"{base}/api/v1/docs/", timeout=10) as reply:
                    assert reply.status == 200
                done = purchase_round_trip(f"{base}/api/v1")
                self.stdout.write(self.style.SUCCESS(
                    f"smoke check passed (bought and paid through gate, Celery and the "
                    f"gateway: {done}); stopping"))
                return
            self.stdout.write("Ctrl-C stops everything.")
            try:
                stack.watch()
            except KeyboardInterrupt:
                self.stdout.write("stopping...")
