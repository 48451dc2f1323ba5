"""`manage.py serve`: the web server (Granian by default) + Celery worker + beat until Ctrl-C."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from loadtests import servers
from loadtests.stack import Stack


class Command(BaseCommand):
    help = "Start the web server, Celery worker(s) and beat on this machine; stop them on Ctrl-C."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--server", choices=servers.KINDS, default=None,
                            help=f"web server (default: WEB_SERVER, else {servers.DEFAULT})")
        parser.add_argument("--web-workers", type=int, default=None,
                            help="web processes (default: WEB_WORKERS, else 3)")
        parser.add_argument("--web-threads", type=int, default=None,
                            help="threads per web process (default: WEB_THREADS, else 2)")
        parser.add_argument("--celery-workers", type=int, default=1)

    def handle(self, *args, port: int, server: str | None, web_workers: int | None,
               web_threads: int | None, celery_workers: int, **opts) -> None:
        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)
        stack = Stack(port=port, web_server=server, web_workers=web_workers,
                      web_threads=web_threads, celery_workers=celery_workers)
        with stack:
            stack.wait_ready()
            self.stdout.write(self.style.SUCCESS(
                f"serving on {stack.url} with {stack.shape.describe()} (Ctrl-C stops)"))
            try:
                stack.watch()
            except KeyboardInterrupt:
                self.stdout.write("stopping...")
