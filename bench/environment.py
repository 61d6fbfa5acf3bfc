"""The run's own resources and the environment every process of the run gets.

The bench never touches the database, broker vhost or var dir of a development run
or of the test suite: it takes the servers from ``DATABASE_URL`` and
``CELERY_BROKER_URL`` when they are set (PostgreSQL at 127.0.0.1:5432 and RabbitMQ or
Redis on 127.0.0.1 otherwise) and uses, on them, a database, a vhost or a Redis db
number of its own. A smoke run uses other names again, so that it can run beside a
full one.
"""

import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_DATABASE_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER_SERVERS = {"rabbitmq": "amqp://guest:guest@127.0.0.1:5672//", "redis": "redis://127.0.0.1:6379/0"}
BROKER_OF_SCHEME = {"amqp": "rabbitmq", "pyamqp": "rabbitmq", "redis": "redis"}

# What the benchmark sets for every process, whatever the caller's environment says:
# production settings (DEBUG off, a key of the run's own), plain HTTP to gunicorn,
# throttles that still run on every request but never refuse one, quiet logs, and
# orders of up to 100 lines (the growth section).
FIXED_SETTINGS = {
    "DEBUG": "0",
    "SECURE_SSL_REDIRECT": "false",
    "TRUSTED_PROXIES": "none",  # the load driver talks to gunicorn directly
    **{name: "1000000/min" for name in ("THROTTLE_ANON", "THROTTLE_USER", "THROTTLE_ORDERS", "THROTTLE_AUTH")},
    "LOG_LEVEL": "WARNING",
    "ORDER_MAX_LINES": "100",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "127.0.0.1",
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "PYTHONUNBUFFERED": "1",
}


class NotPostgres(SystemExit):
    """The bench measures the production shape, which is PostgreSQL."""


@dataclass(frozen=True)
class Resources:
    """Where this run's state lives."""

    database_url: str  # the run's own database
    maintenance_url: str  # the same server's ``postgres`` database, to drop and create it
    database_name: str
    broker: str  # "rabbitmq" or "redis"
    broker_url: str
    vhost: str | None  # RabbitMQ only
    redis_db: int | None  # Redis only
    var_dir: Path
    web_port: int
    smtp_port: int
    cache_url: str  # the throttle counters: Redis, as for several web processes in production


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_broker(environ: dict[str, str]) -> str:
    """The broker of ``CELERY_BROKER_URL`` when it names RabbitMQ or Redis, else RabbitMQ."""
    scheme = urlsplit(environ.get("CELERY_BROKER_URL", "")).scheme
    return BROKER_OF_SCHEME.get(scheme, "rabbitmq")


def resources(*, broker: str, smoke: bool, var_dir: Path, environ: dict[str, str]) -> Resources:
    suffix = "_smoke" if smoke else ""
    server = environ.get("DATABASE_URL", DEFAULT_DATABASE_SERVER)
    parts = urlsplit(server)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise NotPostgres(f"the benchmark runs on PostgreSQL only; DATABASE_URL is {parts.scheme}://...")
    name = f"orderflow_bench{suffix}"
    broker_server = environ.get("CELERY_BROKER_URL", "")
    if BROKER_OF_SCHEME.get(urlsplit(broker_server).scheme) != broker:
        broker_server = DEFAULT_BROKER_SERVERS[broker]
    broker_parts = urlsplit(broker_server)
    vhost = redis_db = None
    if broker == "rabbitmq":
        vhost = f"orderflow-bench{suffix.replace('_', '-')}"
        broker_url = urlunsplit(broker_parts._replace(path=f"/{vhost}"))
    else:
        redis_db = 6 if smoke else 5
        broker_url = urlunsplit(broker_parts._replace(path=f"/{redis_db}"))
    cache_url = environ.get("CACHE_URL") or f"redis://127.0.0.1:6379/{8 if smoke else 7}"
    return Resources(
        cache_url=cache_url,
        database_url=urlunsplit(parts._replace(path=f"/{name}")),
        maintenance_url=urlunsplit(parts._replace(path="/postgres")),
        database_name=name,
        broker=broker,
        broker_url=broker_url,
        vhost=vhost,
        redis_db=redis_db,
        var_dir=var_dir,
        web_port=free_port(),
        smtp_port=free_port(),
    )


def process_environment(res: Resources, environ: dict[str, str]) -> dict[str, str]:
    """The caller's environment (CACHE_URL, CONN_MAX_AGE, ... pass through), with the
    run's resources and ``FIXED_SETTINGS`` on top."""
    return {
        **environ,
        **FIXED_SETTINGS,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": res.database_url,
        "CELERY_BROKER_URL": res.broker_url,
        "ORDERFLOW_VAR_DIR": str(res.var_dir),
        "SANDBOX_GATEWAY_DB": str(res.var_dir / "sandbox-gateway.sqlite3"),
        "EMAIL_PORT": str(res.smtp_port),
        "CACHE_URL": res.cache_url,
    }


def passed_through(environ: dict[str, str], env: dict[str, str]) -> dict[str, str]:
    """The caller's variables that reach the processes unchanged (``env`` is what they
    get) and that the project's settings read (named in project/settings.py): the
    knobs a user turned for this run, shown at the top of the report."""
    source = (ROOT / "project" / "settings.py").read_text()
    return {
        name: without_password(value)
        for name, value in sorted(environ.items())
        if env.get(name) == value and f'"{name}"' in source
    }


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))
