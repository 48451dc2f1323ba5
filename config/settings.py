"""Settings, all from the environment, with embedded defaults for a fresh machine.

DATABASE_URL defaults to a SQLite file and REDIS_URL to an embedded redis-server, so that
`make demo` runs with nothing but Python. Production sets both, plus SECRET_KEY.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

from core import embedded_redis

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept out of the repo."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# The key F-codes are stored under (only their HMAC is kept). Its own setting so that rotating
# SECRET_KEY (sessions, tokens) does not void every issued code; the default is the salted
# derivation the codes have always used, so existing databases keep matching.
FCODE_HMAC_KEY = os.environ.get("FCODE_HMAC_KEY") or f"fcode:{SECRET_KEY}"
# PRODUCTION=true: the deployment profile `manage.py check --deploy` passes under (HTTPS
# behind a proxy that sets X-Forwarded-Proto, HSTS, secure cookies, never DEBUG).
PRODUCTION = env_bool("PRODUCTION", False)
DEBUG = env_bool("DEBUG", False) and not PRODUCTION
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver,web")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "core",
    "shop",
    "antiscalper",
    "sales",
    "loadtests",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.language.LanguageMiddleware",
    "core.error_handling.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.NulFreeFormsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own overrides of other apps' templates (the admin's header).
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.language.live_words",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web workers and Celery share one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The page core.error_handling shows a storefront visitor for a refusal or an outage.
STOREFRONT_ERROR_PAGE = "shop.web.error_page"

if os.environ.get("REDIS_URL"):
    REDIS_URL = os.environ["REDIS_URL"]
    EMBEDDED_REDIS_DIR = None
else:
    # An embedded redis-server on a unix socket in this directory. Nothing starts here: the
    # first connection to it starts it (core.embedded_redis). Exported so that processes
    # started from this one (web workers, Celery) name the same socket.
    EMBEDDED_REDIS_DIR = os.path.abspath(os.environ.get("EMBEDDED_REDIS_DIR", VAR_DIR / "redis"))
    os.environ["EMBEDDED_REDIS_DIR"] = EMBEDDED_REDIS_DIR
    embedded_redis.root_claim(EMBEDDED_REDIS_DIR)  # this process's exit stops it, if it is first
    REDIS_URL = embedded_redis.url_in(EMBEDDED_REDIS_DIR)

# A Redis Cluster for the gate (sales.gate): a sale's stock split into buckets across its
# masters (FlashSale.shards). Unset, the gate shares REDIS_URL's one Redis, as it always did.
REDIS_CLUSTER_URL = os.environ.get("REDIS_CLUSTER_URL") or None

CACHES = {
    "default": {
        "BACKEND": ("core.embedded_redis.RedisCache" if EMBEDDED_REDIS_DIR
                    else "django.core.cache.backends.redis.RedisCache"),
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The storefront speaks Simplified Chinese unless a shopper chooses English; the API and admin
# English unless asked (core.language, which activates a language per request). This is the
# language of work outside a request: tasks, commands, the tests' direct calls.
LANGUAGE_CODE = "en"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
# What the storefront speaks to a shopper who has not chosen (the header's switch).
STOREFRONT_LANGUAGE = os.environ.get("STOREFRONT_LANGUAGE", "zh-hans")
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Stateless: the access token carries the user id, no database lookup per request.
        "rest_framework_simplejwt.authentication.JWTStatelessUserAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.error_handling.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=int(os.environ.get("ACCESS_TOKEN_MINUTES", "30"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "SIGNING_KEY": SECRET_KEY,
    "UPDATE_LAST_LOGIN": False,
    # A refresh hands out a new refresh token and blacklists the one it used, so a stolen
    # refresh token is good once; a password change revokes them all (shop.tokens).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "TOKEN_OBTAIN_SERIALIZER": "shop.tokens.TokenPairInput",
    "TOKEN_REFRESH_SERIALIZER": "shop.tokens.TokenRefreshInput",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Flash-sale store API",
    "DESCRIPTION": "Timed flash sales, reservations, F-codes, deposits and draws. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "config.openapi.error_responses"],
    # Choice sets whose field names other components use too: named once, by what they are.
    "ENUM_NAME_OVERRIDES": {
        "DecisionSourceEnum": "antiscalper.models.RiskDecision.Source",
        "CaseStatusEnum": "antiscalper.models.RingCase.Status",
    },
}

CELERY_BROKER_URL = (embedded_redis.broker_url(REDIS_URL) if EMBEDDED_REDIS_DIR
                     else REDIS_URL.replace("unix://", "redis+socket://", 1))
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Queues by role, a worker per role (loadtests.stack, docker-compose.yml): however far behind
# risk scoring falls, it never holds up the order pipeline, and neither holds up the gate's
# housekeeping (the watch that rebuilds a gate a Redis lost, the reconciler, the preload).
CELERY_ROLES = {
    "pipeline": ("sales.tasks.pipeline_tick", "sales.tasks.orders_expire_due",
                 "sales.tasks.draw_rights_pass_on"),
    "risk": ("sales.tasks.attempts_drain", "sales.tasks.sales_linking_live",
             "sales.tasks.sales_linking", "antiscalper.tasks.risk_linking_run"),
    "housekeeping": ("sales.tasks.gates_preload", "sales.tasks.gates_watch",
                     "sales.tasks.gates_reconcile", "antiscalper.tasks.blacklist_mirror_rebuild",
                     "sales.tasks.reminders_send_due"),
}
CELERY_TASK_ROUTES = {task: {"queue": role} for role, tasks in CELERY_ROLES.items()
                      for task in tasks}
# A task nobody routed still runs: on the housekeeping worker (a test says every task is routed).
CELERY_TASK_DEFAULT_QUEUE = "housekeeping"

# Simulated payment gateway: how slow and how flaky it is.
PAYMENT_GATEWAY_LATENCY_MS = int(os.environ.get("PAYMENT_GATEWAY_LATENCY_MS", "0"))
PAYMENT_GATEWAY_FAILURE_RATE = float(os.environ.get("PAYMENT_GATEWAY_FAILURE_RATE", "0"))
# The key the (simulated) gateway fingerprints instruments under: the gateway's own, so its
# own setting; the default is derived from SECRET_KEY. Changing it changes every fingerprint
# (old payments then no longer match new ones), so set it once per deployment.
PAYMENT_GATEWAY_FINGERPRINT_KEY = (os.environ.get("PAYMENT_GATEWAY_FINGERPRINT_KEY")
                                   or f"gateway-fingerprint:{SECRET_KEY}")

# Phone confirmation (shop.phones): the SMS backend (shop.sms: ConsoleBackend logs the
# message, MemoryBackend keeps it in shop.sms.outbox, RedisBackend in Redis for the replay;
# production names its provider's adapter), the key codes are stored under (only their HMAC
# is kept), how long a code lives, how many tries it takes, how soon another may be sent.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "shop.sms.ConsoleBackend")
PHONE_CODE_HMAC_KEY = os.environ.get("PHONE_CODE_HMAC_KEY") or f"phone-code:{SECRET_KEY}"
PHONE_CODE_TTL_SECONDS = int(os.environ.get("PHONE_CODE_TTL_SECONDS", "300"))
PHONE_CODE_MAX_TRIES = int(os.environ.get("PHONE_CODE_MAX_TRIES", "5"))
PHONE_CODE_RESEND_SECONDS = int(os.environ.get("PHONE_CODE_RESEND_SECONDS", "60"))

# How many reverse proxies in front of us append to X-Forwarded-For (0: trust REMOTE_ADDR).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# The flash-sale gate and pipeline.
GATE_QUEUE_BOUND = int(os.environ.get("GATE_QUEUE_BOUND", "200000"))
GATE_PRELOAD_LEAD_SECONDS = int(os.environ.get("GATE_PRELOAD_LEAD_SECONDS", "600"))
GATE_AUTO_REBUILD = env_bool("GATE_AUTO_REBUILD", True)
PIPELINE_BATCH = int(os.environ.get("PIPELINE_BATCH", "1000"))
# How long a batch may stay pending with its consumer before another worker claims it (a
# SIGKILLed worker's batch waits this long); `double11 --chaos` lowers it to a few seconds.
PIPELINE_MIN_IDLE_MS = int(os.environ.get("PIPELINE_MIN_IDLE_MS", "30000"))
CELERY_BEAT_SCHEDULE = {
    "gates-preload": {"task": "sales.tasks.gates_preload", "schedule": 5.0},
    "pipeline-tick": {"task": "sales.tasks.pipeline_tick", "schedule": 1.0,
                      "options": {"expires": 2}},
    "orders-expire": {"task": "sales.tasks.orders_expire_due", "schedule": 2.0,
                      "options": {"expires": 4}},
    "gates-reconcile": {"task": "sales.tasks.gates_reconcile", "schedule": 15.0},
    # A Redis that came back different (older snapshot, promoted replica) is rebuilt within
    # about a second; the web processes refuse to sell on it meanwhile.
    "gates-watch": {"task": "sales.tasks.gates_watch", "schedule": 1.0,
                    "options": {"expires": 2}},
    "blacklist-mirror-rebuild": {"task": "antiscalper.tasks.blacklist_mirror_rebuild",
                                 "schedule": 60.0, "options": {"expires": 55}},
    "attempts-drain": {"task": "sales.tasks.attempts_drain", "schedule": 2.0,
                       "options": {"expires": 4}},
    # Linking: a step per second over the accounts that arrived (decided within ~2 s of an
    # admission, before payment, and reservers before T0); the full pass reconciles.
    "sales-linking-live": {"task": "sales.tasks.sales_linking_live", "schedule": 1.0,
                           "options": {"expires": 2}},
    "sales-linking": {"task": "sales.tasks.sales_linking", "schedule": 60.0,
                      "options": {"expires": 55}},
    "draw-rights": {"task": "sales.tasks.draw_rights_pass_on", "schedule": 30.0,
                    "options": {"expires": 25}},
    # "Remind me": the texts of sales opening within REMINDER_LEAD_SECONDS.
    "reminders-send": {"task": "sales.tasks.reminders_send_due", "schedule": 30.0,
                       "options": {"expires": 25}},
}
# "Remind me" (sales.reminders): a shopper's text goes out this long before the sale opens;
# one not sent by REMINDER_LATE_SECONDS after the opening is dropped (the rush is over by
# then); a sender's lease on a reminder it is texting lapses after REMINDER_LEASE_SECONDS,
# after which another sender texts it (a sender killed mid-batch loses nothing).
REMINDER_LEAD_SECONDS = int(os.environ.get("REMINDER_LEAD_SECONDS", "300"))
REMINDER_LATE_SECONDS = int(os.environ.get("REMINDER_LATE_SECONDS", "300"))
REMINDER_LEASE_SECONDS = int(os.environ.get("REMINDER_LEASE_SECONDS", "60"))
# "gate" (Redis admission + Celery pipeline) or "row_lock" (the textbook way, for benchmarks).
PURCHASE_STRATEGY = os.environ.get("PURCHASE_STRATEGY", "gate")
# The rush path (sales.rush) answers purchases, ticket polls and live states before Django.
RUSH_PATH = env_bool("RUSH_PATH", True)

# Rate limits (django-ratelimit, counted in the shared Redis cache), per client IP or account.
RATELIMIT_USE_CACHE = "default"
RATELIMIT_IP_META_KEY = "core.http.client_ip_of"
RATELIMIT_RETRY_AFTER = 60
RATE_REGISTER = os.environ.get("RATE_REGISTER", "30/m")
RATE_TOKEN = os.environ.get("RATE_TOKEN", "60/m")
RATE_RESERVATION = os.environ.get("RATE_RESERVATION", "30/m")
RATE_APPEAL = os.environ.get("RATE_APPEAL", "10/h")
# Phone codes, per account: texts cost money and each code has its own tries besides.
RATE_PHONE_CODE = os.environ.get("RATE_PHONE_CODE", "10/h")
RATE_PHONE_CONFIRM = os.environ.get("RATE_PHONE_CONFIRM", "30/m")
# Admin logins (POSTs), per client IP and per username typed: a password guesser is slowed
# down on both, so spreading guesses over many IPs still hits the username's limit.
RATE_ADMIN_LOGIN_IP = os.environ.get("RATE_ADMIN_LOGIN_IP", "20/m")
RATE_ADMIN_LOGIN_USERNAME = os.environ.get("RATE_ADMIN_LOGIN_USERNAME", "5/m")
# The purchase path counts inside the gate's own script (no extra round trip).
PURCHASE_RATE_LIMIT = int(os.environ.get("PURCHASE_RATE_LIMIT", "30"))
PURCHASE_RATE_WINDOW_SECONDS = int(os.environ.get("PURCHASE_RATE_WINDOW_SECONDS", "10"))

# The storefront: session auth for pages (the API stays on tokens).
LOGIN_URL = "web-login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Paths answered over plain HTTP too (regexes without the leading slash), e.g. a health check.
    SECURE_REDIRECT_EXEMPT = env_list("SECURE_REDIRECT_EXEMPT", "")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 86400)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# django-import-export: cells that start with =, +, - or @ are exported as text, not formulae
# (CSV injection), and importing or exporting needs its own model permission.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
