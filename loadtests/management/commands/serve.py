"""`manage.py serve`: web (gunicorn) + Celery worker + beat until Ctrl-C."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from loadtests.stack import Stack


class Command(BaseCommand):
    help = "Start the web server, Celery worker(s) and beat on this machine; stop them on Ctrl-C."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=3)
        parser.add_argument("--celery-workers", type=int, default=1)

    def handle(self, *args, port: int, web_workers: int, celery_workers: int, **opts) -> None:
        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)
        stack = Stack(port=port, web_workers=web_workers, celery_workers=celery_workers)
        with stack:
            stack.wait_ready()
            self.stdout.write(self.style.SUCCESS(f"serving on {stack.url} (Ctrl-C stops)"))
            try:
                stack.watch()
            except KeyboardInterrupt:
                self.stdout.write("stopping...")
