"""End-to-end fixtures: the real processes, on the real broker and database.

For the e2e tests together (``stack`` is package-scoped: started by the first e2e test,
stopped after the last one, so no worker outlives them to take messages meant for the
in-process tests that run after them):

* an SMTP server (aiosmtpd) on a free 127.0.0.1 port that keeps every message;
* for a network broker (RabbitMQ, Redis), a TCP proxy in front of it that a test can
  switch off and on: the web and the relay reach the broker through it, the worker
  does not, so a test can take the broker away from the API alone;
* ``celery -A project worker`` as a subprocess on the real broker, its queues purged
  first;
* gunicorn serving ``project.wsgi`` as a subprocess;
* ``manage.py relay_events --loop --interval 0.5``: the shipped relay process, every
  half second.

Every subprocess gets the test database (built from the test connection's settings),
the test process's broker, var dir and sandbox gateway ledger, and the SMTP server; the
web process plain HTTP and throttle limits no test reaches.
They are stopped with SIGTERM (a warm shutdown), then SIGKILL to what is left of each
process group; should the test process die first, the kernel kills them with it.

Each test gets ``e2e``: a transactional database seeded with the demo catalog, and a
signed-up customer talking HTTP to the web process. After the test it waits until
every event is dispatched and every handler run is finished, so that the database is
flushed with no work in flight.
"""

import contextlib
import io
import os
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management import call_command

from tests.conftest import purge_queues

from .harness import (
    DEFAULT_PORTS,
    Api,
    BrokerProxy,
    SmtpSink,
    Stack,
    free_port,
    http_ok,
    proxied_url,
    settled,
    subprocess_database_url,
)

# Nothing to gain from talking to other workers in a test; it only slows the start.
WORKER_OPTIONS = [f"--hostname=e2e-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
WEB_OPTIONS = ["--workers=2", "--timeout=30", "--no-control-socket"]


@pytest.fixture(scope="package")
def stack(django_db_setup):
    """The running system: SMTP server, broker proxy, worker, web server, relay."""
    logs = Path(settings.VAR_DIR) / "e2e-logs"  # kept after the run, for a look when something failed
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

    env = {
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
        "EVENTS_RETRY_BACKOFF_BASE": "0.2",
        "EVENTS_RELAY_GRACE_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        # DEBUG stays off, as in production: the test process's SECRET_KEY (pytest-env)
        # comes with os.environ, and the stack is spoken to in plain HTTP.
        "SECURE_SSL_REDIRECT": "false",
        # Every customer signs up from 127.0.0.1: limits for a crowd, not for one client.
        **{name: "100000/min" for name in ("THROTTLE_ANON", "THROTTLE_USER", "THROTTLE_ORDERS", "THROTTLE_AUTH")},
    }
    web_env = {**env, "CELERY_BROKER_URL": web_broker_url}
    port = free_port()
    stack = Stack(base_url=f"http://127.0.0.1:{port}", broker_url=broker_url, smtp=smtp, proxy=proxy)
    python = sys.executable
    try:
        purge_queues()
        stack.worker = stack.start(
            "worker",
            [python, "-m", "celery", "-A", "project", "worker", "-l", "info", "--concurrency=2", *WORKER_OPTIONS],
            env,
            logs,
        )
        stack.web = stack.start(
            "web",
            [python, "-m", "gunicorn", "project.wsgi", f"--bind=127.0.0.1:{port}", *WEB_OPTIONS],
            web_env,
            logs,
        )
        stack.relay = stack.start(
            "relay", [python, "manage.py", "relay_events", "--loop", "--interval", "0.5"], web_env, logs
        )
        stack.wait_for(lambda: " ready." in stack.worker.log(), "the worker's 'ready.' in its log")
        stack.wait_for(lambda: http_ok(f"{stack.base_url}/healthz"), "the web process to answer on /healthz")
        stack.wait_for(lambda: "relay: every" in stack.relay.log(), "the relay's start line in its log")
        yield stack
    finally:
        # Each stop on its own: one that fails must not leave the others running.
        with contextlib.ExitStack() as stopping:
            if proxy is not None:
                stopping.callback(proxy.off)
            stopping.callback(controller.stop)
            for proc in stack.procs:
                stopping.callback(proc.stop)


@pytest.fixture
def e2e(stack, transactional_db):
    """A seeded catalog and a signed-up customer; on the way out, no work in flight."""
    call_command("seed_demo", stdout=io.StringIO())
    stack.check_alive()
    try:
        yield Api(stack).sign_up()
    finally:
        if stack.proxy is not None:
            stack.proxy.on()
        # The database is flushed next: let the worker finish first.
        stack.wait_for(settled, "every event dispatched and every handler run finished")


@pytest.fixture
def network_broker(stack):
    """The broker proxy; skips where there is no network broker to take away."""
    if stack.proxy is None:
        pytest.skip(
            f"the {urlsplit(stack.broker_url).scheme}:// broker has no network connection to cut; "
            "run with CELERY_BROKER_URL=amqp://... or redis://... for this test"
        )
    return stack.proxy
