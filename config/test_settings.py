"""Settings for the test suite: the same stack, a private embedded Redis, fast hashing."""

import os
import tempfile

if not os.environ.get("REDIS_URL"):
    # A private embedded server, so tests never flush a running demo's Redis; one per
    # pytest-xdist worker (`make test-fast`), which would otherwise inherit the controller's.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["EMBEDDED_REDIS_DIR"] = tempfile.mkdtemp(prefix="flashsale-redis-")
    else:
        os.environ.setdefault("EMBEDDED_REDIS_DIR", tempfile.mkdtemp(prefix="flashsale-redis-"))

from config.settings import *  # noqa: E402,F403
from config.settings import DATABASES, REDIS_URL, VAR_DIR  # noqa: E402

# `make test-fast` runs on pytest-xdist's workers: each has its own embedded Redis (its own
# temporary directory above) or, on a shared Redis, its own database number, since every test
# flushes the one it uses.
# A process a test starts (a web server, a worker) inherits the worker's environment with the
# URL already moved, or an embedded server's socket: it is not moved again.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if (_worker.startswith("gw") and os.environ.get("REDIS_URL")
        and os.environ.get("TEST_REDIS_MOVED_FOR") != _worker
        and REDIS_URL.startswith(("redis://", "rediss://"))):
    from urllib.parse import urlsplit, urlunsplit

    _url = urlsplit(REDIS_URL)
    _db = int(_url.path.strip("/") or 0) + int(_worker[2:]) + 1
    REDIS_URL = urlunsplit(_url._replace(path=f"/{_db}"))
    CACHES = {"default": {**CACHES["default"], "LOCATION": REDIS_URL}}  # noqa: F405
    CELERY_BROKER_URL = REDIS_URL
    os.environ["REDIS_URL"], os.environ["TEST_REDIS_MOVED_FOR"] = REDIS_URL, _worker

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SMS_BACKEND = "shop.sms.MemoryBackend"  # texts land in shop.sms.outbox
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that threads and subprocesses in tests share the database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    # One test database per run, so that two runs on one server never drop each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
