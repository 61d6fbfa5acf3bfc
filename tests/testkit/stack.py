"""The running system for end-to-end, fault and live tests, and scripts/soak.py:
``running_stack`` starts the SMTP sink, the broker proxy and, as subprocesses, the
worker, the web server and the relay; ``Stack`` is what it yields (its processes, their
logs, waits bounded by ``WAIT``). ``settled`` and ``settle`` say and wait for no work in
flight; ``require_network_broker`` skips where there is no broker connection to cut.

``running_stack`` puts them together:

* an SMTP server (aiosmtpd) on a free 127.0.0.1 port that keeps every message;
* for a network broker (RabbitMQ, Redis), a TCP proxy in front of it that a test can
  switch off and on: the web and the relay reach the broker through it, the worker
  does not, so a test can take the broker away from the API alone;
* ``celery -A project worker`` as a subprocess on the real broker, its queues purged
  first;
* gunicorn serving ``project.wsgi`` as a subprocess (or, with ``web="asgi"``,
  ``project.asgi`` on uvicorn workers, as the Procfile does: the live order streams);
* ``manage.py relay_events --loop --interval 0.5``: the shipped relay process, every
  half second.

Every subprocess gets the current database connection's database (the test database
under pytest), the broker, var dir and sandbox gateway ledger of this process, and the
SMTP server; the web process plain HTTP and throttle limits no test reaches. They are
stopped with SIGTERM (a warm shutdown), then SIGKILL to what is left of each process
group; should this process die first, the kernel kills them with it.
"""

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

from .broker import purge_queues
from .processes import Proc, free_port
from .proxy import BrokerProxy, proxied_url
from .smtp import SmtpSink

WAIT = 60.0  # seconds: the bound on every wait for an outcome
DEFAULT_PORTS = {"amqp": 5672, "amqps": 5671, "pyamqp": 5672, "redis": 6379, "rediss": 6379}


@dataclass
class Stack:
    base_url: str
    broker_url: str
    smtp: SmtpSink
    proxy: BrokerProxy | None
    worker: Proc | None = None
    web: Proc | None = None
    relay: Proc | None = None
    procs: list[Proc] = field(default_factory=list)

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} ({p.log_path}) -----\n{p.tail()}" for p in self.procs)

    def check_alive(self) -> None:
        for p in self.procs:
            if not p.alive():
                raise AssertionError(f"{p.name} exited with {p.popen.returncode}\n{self.logs()}")

    def wait_for(self, condition, what: str, timeout: float = WAIT, interval: float = 0.2):
        """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            self.check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{self.logs()}")
            time.sleep(interval)

    def start(self, name: str, args: list[str], env: dict, log_dir: Path) -> Proc:
        proc = Proc(name, args, env, log_dir / f"{name}.log")
        self.procs.append(proc)
        return proc

    def restart(self, role: str, *, kill: bool = False, env: dict | None = None, args: list[str] | None = None) -> Proc:
        """Stop the ``role`` process ("worker", "web", "relay") — SIGKILL to its whole
        group with ``kill``, a warm stop otherwise — and start it again: with ``args``
        or the same command, its environment changed by ``env`` (a None value removes
        a variable). Returns once it is ready."""
        old = getattr(self, role)
        old.kill() if kill else old.stop()
        new_env = {**old.env, **(env or {})}
        new_env = {k: v for k, v in new_env.items() if v is not None}
        new = Proc(old.name, args or old.args, new_env, old.log_path)
        self.procs[self.procs.index(old)] = new
        setattr(self, role, new)
        self.wait_ready(role)
        return new

    def wait_ready(self, role: str) -> None:
        proc = getattr(self, role)
        if role == "worker":
            self.wait_for(lambda: " ready." in proc.log(), "the worker's 'ready.' in its log")
        elif role == "web":
            self.wait_for(lambda: http_ok(f"{self.base_url}/healthz"), "the web process to answer on /healthz")
        else:
            self.wait_for(lambda: "relay: every" in proc.log(), "the relay's start line in its log")


def subprocess_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = quote(db["USER"] or "", safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = db.get("HOST") or "127.0.0.1"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth}@{host}{port}/{quote(db['NAME'], safe='')}"
    raise RuntimeError(f"e2e tests do not know how to hand {db['ENGINE']} to a subprocess")


def http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


# --- The running stack -------------------------------------------------------------------
# Nothing to gain from talking to other workers in a test; it only slows the start.
WORKER_OPTIONS = [f"--hostname=e2e-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
WEB_OPTIONS = ["--workers=2", "--timeout=30", "--no-control-socket"]
WEB_APPS = {
    "wsgi": ["project.wsgi"],
    # The Procfile's web process: the whole API, REST and streams, on uvicorn workers.
    "asgi": ["project.asgi", "--worker-class=uvicorn_worker.UvicornWorker"],
}
STACK_ENV = {
    # Short retry backoff, so recoveries happen within a test's waits.
    "EVENTS_RETRY_BACKOFF_BASE": "0.2",
    "LOG_LEVEL": "INFO",
    # DEBUG stays off, as in production: the test process's SECRET_KEY (pytest-env)
    # comes with os.environ, and the stack is spoken to in plain HTTP.
    "SECURE_SSL_REDIRECT": "false",
    # Every customer signs up from 127.0.0.1: limits for a crowd, not for one client.
    **{name: "100000/min" for name in ("THROTTLE_ANON", "THROTTLE_USER", "THROTTLE_ORDERS", "THROTTLE_AUTH")},
}


@contextlib.contextmanager
def running_stack(logs: Path, extra_env: dict[str, str] | None = None, web: str = "wsgi") -> Iterator[Stack]:
    """Start SMTP sink, broker proxy, worker, web server and relay (logs in ``logs``,
    emptied first); stop them all on the way out. ``extra_env`` is added to STACK_ENV
    for every process; ``web`` says which application gunicorn serves (``WEB_APPS``)."""
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    broker_url = settings.CELERY_BROKER_URL
    parts = urlsplit(broker_url)
    proxy = None
    web_broker_url = broker_url
    if parts.scheme in DEFAULT_PORTS:
        proxy = BrokerProxy((parts.hostname or "127.0.0.1", parts.port or DEFAULT_PORTS[parts.scheme]))
        proxy.on()
        web_broker_url = proxied_url(broker_url, proxy.port)

    smtp = SmtpSink()
    controller = Controller(smtp, hostname="127.0.0.1", port=free_port())
    controller.start()

    process_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": subprocess_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "ORDERFLOW_VAR_DIR": str(Path(settings.VAR_DIR).resolve()),
        "SANDBOX_GATEWAY_DB": str(Path(settings.SANDBOX_GATEWAY_DB).resolve()),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(controller.port),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        **STACK_ENV,
        **(extra_env or {}),
    }
    web_env = {**process_env, "CELERY_BROKER_URL": web_broker_url}
    port = free_port()
    stack = Stack(base_url=f"http://127.0.0.1:{port}", broker_url=broker_url, smtp=smtp, proxy=proxy)
    python = sys.executable
    try:
        purge_queues()
        stack.worker = stack.start(
            "worker",
            [python, "-m", "celery", "-A", "project", "worker", "-l", "info", "--concurrency=2", *WORKER_OPTIONS],
            process_env,
            logs,
        )
        stack.web = stack.start(
            "web",
            [python, "-m", "gunicorn", *WEB_APPS[web], f"--bind=127.0.0.1:{port}", *WEB_OPTIONS],
            web_env,
            logs,
        )
        stack.relay = stack.start(
            "relay", [python, "manage.py", "relay_events", "--loop", "--interval", "0.5"], web_env, logs
        )
        for role in ("worker", "web", "relay"):
            stack.wait_ready(role)
        yield stack
    finally:
        # Each stop on its own: one that fails must not leave the others running.
        with contextlib.ExitStack() as stopping:
            if proxy is not None:
                stopping.callback(proxy.off)
            stopping.callback(controller.stop)
            for proc in stack.procs:
                stopping.callback(proc.stop)


def settled(stream: str | None = None) -> bool:
    """Every event (of ``stream``) dispatched and every handler run on it finished."""
    from events.models import Event, HandlerRun

    events = Event.objects.all()
    runs = HandlerRun.objects.filter(status__in=HandlerRun.OPEN)
    if stream:
        events, runs = events.filter(stream=stream), runs.filter(event__stream=stream)
    return not events.filter(dispatched_at=None).exists() and not runs.exists()


def settle(stack: Stack) -> None:
    """Broker back on, and no work in flight: the database is flushed next, so the
    worker must be done with it first."""
    if stack.proxy is not None:
        stack.proxy.on()
    stack.wait_for(settled, "every event dispatched and every handler run finished")


def require_network_broker(stack: Stack) -> BrokerProxy:
    """The broker proxy; skips where there is no network broker to take away."""
    if stack.proxy is None:
        pytest.skip(
            f"the {urlsplit(stack.broker_url).scheme}:// broker has no network connection to cut; "
            "run with CELERY_BROKER_URL=amqp://... or redis://... for this test"
        )
    return stack.proxy
