"""The Celery app, configured from Django settings (CELERY_* names)."""

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# The embedded Redis's broker URL names its own transport, whose connections start the server
# first (core.embedded_redis.Transport). A URL may only name an alias, not an import path.
TRANSPORT_ALIASES.setdefault("embedded-redis", "core.embedded_redis:Transport")

app = Celery("flashsale")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
