"""Orderflow settings.

Everything that differs between machines comes from the environment (12-factor, via
django-environ). The defaults need no server: a SQLite file and kombu's filesystem
broker under ``var/``, so ``make run`` works on a fresh machine.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import environ
from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from . import proxies

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the embedded defaults keep their files (made at start: project.local_state).
VAR_DIR = Path(environ.Env().str("ORDERFLOW_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

DEBUG = env.bool("DEBUG", default=False)
# A development run (DEBUG on) may use the built-in key; anything else must bring its own,
# or sessions, password reset links and signed values could be forged by anyone who has
# read this file.
_DEV_SECRET_KEY = "insecure-dev-key-set-SECRET_KEY-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
if not DEBUG and SECRET_KEY in ("", _DEV_SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set when DEBUG is off: a long random string, e.g. from "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'` (or set DEBUG=1 for a development run)."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- What stands in front (project.proxies) -------------------------------------------
# A production deployment must say: a server reached directly must not believe a
# client's X-Forwarded-Proto / X-Forwarded-For, one behind a load balancer must, or every
# anonymous client would share the balancer's address (and its throttle allowance).
TRUSTED_PROXIES = env.str("TRUSTED_PROXIES", default="none" if DEBUG else "")
if not TRUSTED_PROXIES:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES must be set when DEBUG is off: {proxies.HOW}.")
try:
    _proxies = proxies.TrustedProxies.parse(TRUSTED_PROXIES)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
if "NUM_PROXIES" in os.environ:
    raise ImproperlyConfigured("NUM_PROXIES is replaced by TRUSTED_PROXIES (the count of proxies, or their addresses).")

# --- HTTPS (`manage.py check --deploy` passes with DEBUG off) --------------------------
# Behind a proxy, TLS ends at the proxy, which says so in X-Forwarded-Proto; the
# middleware passes that header on only from a declared proxy (the nearest's value).
SECURE_PROXY_SSL_HEADER = None if _proxies.direct else ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers and Prometheus probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|metrics)$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "events",
    "users",
    "customers",
    "catalog",
    "orders",
    "payments",
    "notifications",
    "audit",
    "webhooks",
    "exports",
    "live",
    "support",
    "project.apps.ProjectConfig",
]

MIDDLEWARE = [
    "project.proxies.TrustedProxyMiddleware",
    "project.logcontext.LogContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The admin's front page and banner (project/dashboard) override admin templates.
        "DIRS": [BASE_DIR / "project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "project.dashboard.context.admin",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'orderflow.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and scheduler share one file: WAL lets readers run beside the writer,
    # IMMEDIATE takes the write lock at BEGIN so two writers queue instead of failing
    # with "database is locked" halfway through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        # Longer than a handler's soft time limit (45 s): a writer waiting behind a
        # handler's transaction waits it out instead of failing "database is locked".
        "timeout": 60,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory: end-to-end tests run workers in other processes.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-orderflow.sqlite3")}
# Persistent connections: a new PostgreSQL connection per request doubles the cost of
# a cheap read. Health checks drop a connection the server closed before reusing it.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Connections an ASGI web process may hold at once (its pool, below).
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=10)
if env.str("ORDERFLOW_SERVED_BY", default="") == "asgi":
    # The ASGI server (project.asgi) runs each request's queries on a thread of that
    # request's own: a connection kept on it is never used again and never closed. It
    # closes every connection at the end of its request instead and, on PostgreSQL,
    # takes them from a pool of the process's own (psycopg_pool), so a request still
    # pays no new connection.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2,
            "max_size": DB_POOL_MAX_SIZE,
            "timeout": 10,
        }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------
# It holds the throttle counters, so every web process must see the same one: files
# under var/ by default (no server; shared by the workers of one machine), Redis for
# several machines, e.g. CACHE_URL=redis://127.0.0.1:6379/1.
CACHES = {"default": env.cache("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}
# Django's default (PBKDF2, deliberately slow). A test that signs up hundreds of accounts
# over HTTP (tests/project/test_api_fuzz.py) names a fast one; never do that in production.
PASSWORD_HASHERS = env.list("PASSWORD_HASHERS", default=global_settings.PASSWORD_HASHERS)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}


# --- API tokens (users.tokens) ------------------------------------------------------------
# A token expires this long after it was last used (its expiry slides with use).
TOKEN_TTL = timedelta(days=env.float("TOKEN_TTL_DAYS", default=30.0))
# A token's last use is written at most this often: one UPDATE a minute, not a request.
TOKEN_USE_RESOLUTION = timedelta(seconds=60)
# Expired tokens are kept this long (a client is told its token expired, not that it is
# unknown), then deleted by the daily task users.purge_expired_tokens.
TOKEN_EXPIRED_KEPT = timedelta(days=env.float("TOKEN_EXPIRED_KEPT_DAYS", default=30.0))


# --- REST API -------------------------------------------------------------------------
def _throttle_rate(name: str, default: str) -> str:
    """A rate as DRF reads it, "<count>/<s|min|h|day>", checked here rather than on the
    first request."""
    rate = env.str(name, default=default)
    if not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", rate):
        raise ImproperlyConfigured(f"{name}={rate!r}: expected a rate such as 60/min (per s, min, hour or day)")
    return rate


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "customers.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "project.pagination.Pagination",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "project.openapi.schema.ApiSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "project.errors.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": [
        "project.throttles.AnonThrottle",
        "project.throttles.UserThrottle",
        "project.throttles.ScopedWriteThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        scope: _throttle_rate(name, default)
        for scope, name, default in [
            ("anon", "THROTTLE_ANON", "120/min"),  # per client address, without credentials
            ("user", "THROTTLE_USER", "1200/min"),  # per account
            ("orders", "THROTTLE_ORDERS", "60/min"),  # placing orders, per account
            ("auth", "THROTTLE_AUTH", "10/min"),  # token and register, per client address
            ("support", "THROTTLE_SUPPORT", "10/min"),  # asking the support desk, per account
        ]
    },
    # REMOTE_ADDR is already the client's (project.proxies resolves X-Forwarded-For
    # from declared proxies only), so DRF must not read X-Forwarded-For again.
    "NUM_PROXIES": 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Orderflow API",
    # Long text lives beside the code that documents the API, not in the settings.
    "DESCRIPTION": (BASE_DIR / "project" / "openapi" / "description.md").read_text(),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "project.openapi.links.add_links",
    ],
    # Swagger UI and ReDoc from our own static files (drf-spectacular-sidecar), not a CDN:
    # the docs work on a machine without internet, behind a firewall.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Requests larger than this are refused before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=64 * 1024)
ORDER_MAX_LINES = env.int("ORDER_MAX_LINES", default=50)
ORDER_MAX_QUANTITY = env.int("ORDER_MAX_QUANTITY", default=1000)
# How long an Idempotency-Key and its stored answer are kept (seconds).
IDEMPOTENCY_KEY_TTL = env.int("IDEMPOTENCY_KEY_TTL", default=24 * 60 * 60)
# When set, GET /metrics wants `Authorization: Bearer <METRICS_TOKEN>` (the scraper's).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Seconds a pending order may wait for its payment outcome before the periodic task
# orders.cancel_unpaid_orders cancels it (reason "payment_timeout"). Longer than the
# charge handler's retries (about a quarter of an hour), so a gateway outage it rides
# out does not cancel the orders placed meanwhile.
ORDER_PAYMENT_TIMEOUT = env.float("ORDER_PAYMENT_TIMEOUT", default=30 * 60.0)
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="EUR")

# --- Live order status (live/: Server-Sent Events, served by project.asgi) ---------------
# Seconds a stream token (POST /api/v1/orders/{id}/stream-token) opens its order's stream.
LIVE_STREAM_TOKEN_TTL = env.int("LIVE_STREAM_TOKEN_TTL", default=10 * 60)
# Seconds between heartbeat comments on an idle stream (and re-reads of its events).
LIVE_STREAM_HEARTBEAT = env.float("LIVE_STREAM_HEARTBEAT", default=15.0)
# Seconds a stream stays open; the browser then reconnects with Last-Event-ID, so no
# connection (and no proxy's idea of one) lives forever. Shorter than a stream token's
# life, so the browser's own reconnect still opens with the token it has.
LIVE_STREAM_MAX_AGE = env.float("LIVE_STREAM_MAX_AGE", default=5 * 60.0)
# SQLite has no LISTEN/NOTIFY: each server process polls the events table this often.
LIVE_STREAM_POLL = env.float("LIVE_STREAM_POLL", default=0.5)
# Threads (so at most database connections) that a server process's streams read with.
LIVE_STREAM_DB_THREADS = env.int("LIVE_STREAM_DB_THREADS", default=4)

# --- Support desk (support/) ----------------------------------------------------------
# Who answers customers' questions: "sandbox" (no network, rules over the order's facts)
# or "openai", any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM,
# llama.cpp): LLM_BASE_URL e.g. http://127.0.0.1:11434/v1 for Ollama.
LLM_PROVIDER = env.str("LLM_PROVIDER", default="sandbox")
if LLM_PROVIDER not in ("sandbox", "openai") and "." not in LLM_PROVIDER:
    raise ImproperlyConfigured(
        f"LLM_PROVIDER={LLM_PROVIDER!r}: expected sandbox, openai or a dotted path to a provider"
    )
LLM_BASE_URL = env.str("LLM_BASE_URL", default="https://api.openai.com/v1")
LLM_MODEL = env.str("LLM_MODEL", default="gpt-4o-mini")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
# Seconds one model call may take; the answering handler's attempt is given 15 more.
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=30.0)
LLM_MAX_ANSWER_TOKENS = env.int("LLM_MAX_ANSWER_TOKENS", default=400)
# Attempts of the answering handler (retries with backoff, a 429's Retry-After honoured);
# after the last one the question goes to staff.
SUPPORT_ANSWER_ATTEMPTS = env.int("SUPPORT_ANSWER_ATTEMPTS", default=5)
# Tokens (prompt + answer) the model may spend a day, shop-wide; past it, questions go to staff.
SUPPORT_DAILY_TOKEN_BUDGET = env.int("SUPPORT_DAILY_TOKEN_BUDGET", default=200_000)
# Seconds a question may wait for its answer before the sweep hands it to staff.
SUPPORT_ANSWER_DEADLINE = env.float("SUPPORT_ANSWER_DEADLINE", default=15 * 60.0)

# --- Email ----------------------------------------------------------------------------
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Orderflow <orders@orderflow.localhost>")
# With no SMTP server configured the embedded run prints mail to the worker's log.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
_BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        # Exchange bindings; kombu's default is ./control in the working directory.
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis redelivers an unacked message after the visibility timeout; it must exceed
    # the longest retry countdown or delayed retries would be delivered twice
    # (events.checks refuses to start otherwise).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.float("CELERY_BROKER_VISIBILITY_TIMEOUT", default=3600.0)
    }
else:
    # RabbitMQ: publisher confirms, so a publish returns only once the broker has the
    # message (the outbox marks an event dispatched on that word alone).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}

CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)
CELERY_TASK_DEFAULT_QUEUE = "events"
# One queue per domain so each can be scaled on its own machines; a plain
# `celery -A project worker` consumes all of them, `-Q payments` only one.
CELERY_TASK_QUEUES = [
    Queue(name, routing_key=name)
    # exports: the stream sinks' own queue, so a slow or down sink never holds payments.
    for name in ("events", "orders", "payments", "notifications", "loyalty", "webhooks", "exports", "support")
]
# A task sent without a queue (from a shell, by an old caller) still goes to its domain's.
CELERY_TASK_ROUTES = {
    "events.*": {"queue": "events"},
    "orders.*": {"queue": "orders"},
    "payments.*": {"queue": "payments"},
    "notifications.*": {"queue": "notifications"},
    "customers.*": {"queue": "loyalty"},
    "support.answer_question": {"queue": "support"},  # slow model calls never hold payments
    "support.*": {"queue": "events"},  # housekeeping (the stalled-question sweep)
    "webhooks.sweep": {"queue": "events"},  # housekeeping, not behind the deliveries
    "webhooks.*": {"queue": "webhooks"},
    "exports.*": {"queue": "exports"},
    "users.*": {"queue": "events"},  # housekeeping: the relay's queue, always consumed
    "audit.*": {"queue": "events"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Publishing happens after the order is committed, inside the request: when the broker
# is down we give up fast and leave the event to the relay instead of hanging the client.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery closes the worker's database connections after every task unless told it may
# reuse them: a new PostgreSQL connection per handler run cost more than the run's own
# queries. They are kept, and handled like a web request's: CONN_MAX_AGE and the
# health check apply at the start of every task (project.celery).
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "events.relay": {
        "task": "events.relay",
        "schedule": timedelta(seconds=env.float("EVENTS_RELAY_INTERVAL", default=5.0)),
        "options": {"queue": "events", "expires": 30},
    },
    "orders.prune_idempotency_keys": {
        "task": "orders.prune_idempotency_keys",
        "schedule": timedelta(hours=1),
        "options": {"queue": "orders", "expires": 3600},
    },
    "audit.check_invariants": {
        "task": "audit.check_invariants",
        "schedule": timedelta(seconds=env.float("INVARIANTS_CHECK_INTERVAL", default=300.0)),
        "options": {"queue": "events", "expires": 60},
    },
    "events.prune": {
        "task": "events.prune",
        "schedule": timedelta(seconds=env.float("EVENTS_PRUNE_INTERVAL", default=3600.0)),
        "options": {"queue": "events", "expires": 600},
    },
    "users.purge_expired_tokens": {
        "task": "users.purge_expired_tokens",
        "schedule": timedelta(days=1),
        "options": {"queue": "events", "expires": 3600},
    },
    # Sends the webhook deliveries whose next attempt is due (webhooks.services.sweep).
    "webhooks.sweep": {
        "task": "webhooks.sweep",
        "schedule": timedelta(seconds=env.float("WEBHOOKS_SWEEP_INTERVAL", default=5.0)),
        # On the relay's queue, not behind a backlog of deliveries it is there to send.
        "options": {"queue": "events", "expires": 30},
    },
    "support.hand_over_stalled": {
        "task": "support.hand_over_stalled",
        "schedule": timedelta(seconds=env.float("SUPPORT_SWEEP_INTERVAL", default=60.0)),
        "options": {"queue": "events", "expires": 60},
    },
    "orders.cancel_unpaid_orders": {
        "task": "orders.cancel_unpaid_orders",
        "schedule": timedelta(seconds=env.float("ORDER_SWEEP_INTERVAL", default=60.0)),
        "options": {"queue": "orders", "expires": 60},
    },
}

# --- Events ---------------------------------------------------------------------------
# Exponential backoff for handler retries: base * 2**(attempt-1), capped, with jitter.
EVENTS_RETRY_BACKOFF_BASE = env.float("EVENTS_RETRY_BACKOFF_BASE", default=1.0)
EVENTS_RETRY_BACKOFF_MAX = env.float("EVENTS_RETRY_BACKOFF_MAX", default=300.0)
# A handler attempt's time limit, and its lease: a run left unhandled this long (its
# message lost, its worker killed) is sent again by the relay.
EVENTS_HANDLER_TIMEOUT = env.float("EVENTS_HANDLER_TIMEOUT", default=45.0)
# The dispatcher (the relay process) takes up to this many events a pass: one
# transaction writes their handler runs, one broker connection publishes their tasks.
EVENTS_DISPATCH_BATCH = env.int("EVENTS_DISPATCH_BATCH", default=500)
# Seconds a dispatcher holds the events of its batch: if it dies before marking them
# dispatched, another dispatches them once this has passed.
EVENTS_DISPATCH_LEASE = env.float("EVENTS_DISPATCH_LEASE", default=5.0)
# Under load (its last pass found several events), the dispatcher woken by a commit
# waits this long (seconds) for more before its pass, so that one pass sends many.
EVENTS_DISPATCH_GATHER = env.float("EVENTS_DISPATCH_GATHER", default=0.005)
# Where the database cannot wake the dispatcher (SQLite: no LISTEN/NOTIFY), it looks
# for new events this often (seconds).
EVENTS_DISPATCH_POLL = env.float("EVENTS_DISPATCH_POLL", default=0.1)
# A run the relay has sent this many times in a row, each time unhandled by its deadline
# (no worker consumes its queue), is dead-lettered instead of being sent forever. The
# wait doubles each time (up to 32 leases): 10 sends of a 45 s handler are ~2.4 hours.
EVENTS_MAX_RESENDS = env.int("EVENTS_MAX_RESENDS", default=10)
# Dispatched events whose every handler run is done or skipped are deleted, with their
# runs, this many days after they occurred (hourly, by the periodic task events.prune).
EVENTS_RETENTION_DAYS = env.float("EVENTS_RETENTION_DAYS", default=30.0)

# --- Webhooks (webhooks/) ----------------------------------------------------------------
# Targets must be public https addresses; true allows loopback, private ranges and plain
# http (tests, private networks).
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=False)
# After a secret rotation the previous secret still signs (beside the new one) this long.
WEBHOOK_SECRET_OVERLAP = timedelta(hours=env.float("WEBHOOK_SECRET_OVERLAP_HOURS", default=24.0))
# Seconds before each attempt (Standard Webhooks' schedule, about three days); a delivery
# whose last attempt fails is given up (failed). Each delay gets +-10 % jitter.
_STANDARD_WEBHOOKS_SCHEDULE = ["0", "5", "300", "1800", "7200", "18000", "36000", "50400", "72000", "86400"]
WEBHOOKS_RETRY_SCHEDULE = [float(s) for s in env.list("WEBHOOKS_RETRY_SCHEDULE", default=_STANDARD_WEBHOOKS_SCHEDULE)]
# A retry due within this many seconds is also sent as a countdown message (no wait for
# the sweep); longer ones wait on the row for the sweep (a broker holding a message
# longer than Redis's visibility timeout would deliver it twice).
WEBHOOKS_COUNTDOWN_MAX = env.float("WEBHOOKS_COUNTDOWN_MAX", default=60.0)
# The most a receiver's Retry-After (on 429, 502, 503, 504) may put off the next attempt.
WEBHOOKS_RETRY_AFTER_MAX = env.float("WEBHOOKS_RETRY_AFTER_MAX", default=86400.0)
# PEM file of the certificate authorities a target's certificate must chain to (a
# private network's own CA); empty: the system's.
WEBHOOKS_CA_BUNDLE = env.str("WEBHOOKS_CA_BUNDLE", default="")
WEBHOOKS_CONNECT_TIMEOUT = env.float("WEBHOOKS_CONNECT_TIMEOUT", default=5.0)
WEBHOOKS_READ_TIMEOUT = env.float("WEBHOOKS_READ_TIMEOUT", default=15.0)

# --- Event export to streams (exports) -------------------------------------------------
# Each public event (events.public) is published to every sink whose setting is set;
# none is by default. Each (event, sink) is a handler run of its own, on the queue
# "exports": retried with backoff, dead-lettered when out of attempts.
EVENTS_EXPORT_REDIS_URL = env.str("EVENTS_EXPORT_REDIS_URL", default="")
EVENTS_EXPORT_NATS_URL = env.str("EVENTS_EXPORT_NATS_URL", default="")
EVENTS_EXPORT_KAFKA_BOOTSTRAP = env.str("EVENTS_EXPORT_KAFKA_BOOTSTRAP", default="")
# Names: the Redis stream <prefix>.events (or <prefix>.<type> with STREAM_PER_TYPE), the
# NATS subjects <prefix>.<type>, the Kafka topic <prefix>.events.
EVENTS_EXPORT_PREFIX = env.str("EVENTS_EXPORT_PREFIX", default="orderflow")
EVENTS_EXPORT_REDIS_STREAM_PER_TYPE = env.bool("EVENTS_EXPORT_REDIS_STREAM_PER_TYPE", default=False)
# XADD ... MAXLEN ~ this (0: never trimmed).
EVENTS_EXPORT_REDIS_MAXLEN = env.int("EVENTS_EXPORT_REDIS_MAXLEN", default=1_000_000)
# Redis has no de-duplication of its own: a marker per exported event id, kept this
# long, makes a re-sent run add nothing. Longer than any run can be retried or re-sent.
EVENTS_EXPORT_REDIS_DEDUP_DAYS = env.float("EVENTS_EXPORT_REDIS_DEDUP_DAYS", default=3.0)
# Attempts per (event, sink) before the run is dead-lettered: with the default backoff
# (doubling from 1 s, at most 300 s, jittered) 300 attempts ride out a sink down for
# half a day at least (about 19 hours on average) and catch up by themselves.
EVENTS_EXPORT_MAX_ATTEMPTS = env.int("EVENTS_EXPORT_MAX_ATTEMPTS", default=300)
# The JetStream stream (on subjects <prefix>.>), created if missing, and its window for
# dropping a second message with the same Nats-Msg-Id (seconds): by default as long as
# a run can go on retrying, so a retried publish the server had in fact kept is dropped.
EVENTS_EXPORT_NATS_STREAM = env.str("EVENTS_EXPORT_NATS_STREAM", default="ORDERFLOW")
EVENTS_EXPORT_NATS_DUPLICATE_WINDOW = env.float(
    "EVENTS_EXPORT_NATS_DUPLICATE_WINDOW", default=EVENTS_EXPORT_MAX_ATTEMPTS * EVENTS_RETRY_BACKOFF_MAX
)
# librdkafka's message.timeout.ms (seconds): a message not delivered by then fails its
# delivery callback, and the run is retried.
EVENTS_EXPORT_KAFKA_MESSAGE_TIMEOUT = env.float("EVENTS_EXPORT_KAFKA_MESSAGE_TIMEOUT", default=15.0)
# More librdkafka producer properties, as JSON (security.protocol, sasl.*, ...).
EVENTS_EXPORT_KAFKA_CONFIG = env.json("EVENTS_EXPORT_KAFKA_CONFIG", default={})
# Seconds any one call to a sink may take (connect, publish, its acknowledgement).
EVENTS_EXPORT_TIMEOUT = env.float("EVENTS_EXPORT_TIMEOUT", default=5.0)

# --- Invariant checker (audit.invariants) ----------------------------------------------
# A handler run still open this long past its deadline means the relay is not re-sending.
INVARIANTS_RUN_GRACE_SECONDS = env.float("INVARIANTS_RUN_GRACE_SECONDS", default=30.0)
# An event undispatched this long means neither the on-commit dispatch nor the relay got it out.
INVARIANTS_UNDISPATCHED_MAX_SECONDS = env.float("INVARIANTS_UNDISPATCHED_MAX_SECONDS", default=60.0)
# The periodic check looks at orders, runs and events of this last stretch (stock: all).
INVARIANTS_CHECK_WINDOW = env.float("INVARIANTS_CHECK_WINDOW", default=86400.0)
# Reports older than this are deleted by the next check.
INVARIANTS_REPORT_RETENTION_DAYS = env.int("INVARIANTS_REPORT_RETENTION_DAYS", default=30)

# --- Payments -------------------------------------------------------------------------
PAYMENT_GATEWAY = env.str("PAYMENT_GATEWAY", default="payments.gateways.sandbox.SandboxGateway")
# The sandbox stands in for an outside system, so its ledger is not in our database:
# a charge survives the rollback of the handler that made it, as a real one would.
SANDBOX_GATEWAY_DB = env.str("SANDBOX_GATEWAY_DB", default=str(VAR_DIR / "sandbox-gateway.sqlite3"))

LOYALTY_POINTS_PER_UNIT = env.int("LOYALTY_POINTS_PER_UNIT", default=1)

# --- Logging --------------------------------------------------------------------------
# One JSON object per line, carrying the order, event, handler and task it is about
# (project.logcontext); LOG_FORMAT=plain for the old one-line text.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "project.logcontext.ContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

AUTH_USER_MODEL = "users.User"
