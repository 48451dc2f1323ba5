"""WSGI entry point (gunicorn config.wsgi): Django behind the rush path (sales.rush), which
answers a rush's purchases, ticket polls and live states itself and hands Django the rest."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from sales.rush import RushPath  # noqa: E402 (needs the apps loaded)

application = RushPath(django_application)
