"""Fixtures shared by the unit and API tests.

``run_handlers`` runs the event flow in-process against the REAL configured broker
(``CELERY_BROKER_URL``: filesystem, Redis or RabbitMQ): it purges the task queues when
the test starts, and when called does what the relay and the workers do: dispatches
every recorded event (``events.services.dispatch_pending``), consumes every message on
the queues, runs each task with ``Task.apply`` under the message's own task id, acks
it, and repeats until no event is left undispatched and the queues stay empty. Use it
with ``@pytest.mark.django_db(transaction=True)`` so that commits are real.
``dispatch`` alone is the dispatcher's pass, for tests that look at what it sent.

End-to-end and fault tests (``tests/e2e``, ``tests/faults``; markers ``e2e``,
``faults``) run real workers in other processes; the in-process overrides below leave
them alone.
"""

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone
from kombu import Consumer
from rest_framework.test import APIClient

from events import selectors as event_selectors
from events import services as event_services
from payments.gateways import get_gateway
from project.celery import app as celery_app
from users.services import create_token

from .factories import ProductFactory, StaffUserFactory, UserFactory


def pytest_configure(config):
    # WhiteNoise warns on every request when STATIC_ROOT (under the var dir) is missing.
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


def _is_e2e(request) -> bool:
    """An end-to-end or fault test: real processes, which read the real settings."""
    return any(
        request.node.get_closest_marker(kind) is not None or kind in request.node.path.parts
        for kind in ("e2e", "faults")
    )


@pytest.fixture(autouse=True)
def _unit_test_settings(request):
    """Fast password hashing, no retry backoff, a sandbox gateway ledger of the test's
    own (the gateway keeps it outside the database, so the test database's flush misses
    it), and an empty cache, so that no test inherits another's throttle counts.

    ``run_handlers`` runs tasks in-process, where Celery runs a retry at once: with a
    zero backoff that is what the run expects too (a retry arriving before its backoff
    is over is skipped as an early copy)."""
    if _is_e2e(request):
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EVENTS_RETRY_BACKOFF_BASE = 0.0
    settings.SANDBOX_GATEWAY_DB = str(request.getfixturevalue("tmp_path") / "sandbox-gateway.sqlite3")
    get_gateway.cache_clear()  # the gateway is cached with the path it was made with
    cache.clear()
    yield
    get_gateway.cache_clear()


# --- API clients ------------------------------------------------------------------------


def client_for(user) -> APIClient:
    """An API client that authenticates as ``user`` with a real API token."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {create_token(user).key}")
    return client


@pytest.fixture
def api_client() -> APIClient:
    """Anonymous."""
    return APIClient()


@pytest.fixture
def shopper(db):
    return UserFactory()


@pytest.fixture
def shopper_client(shopper) -> APIClient:
    return client_for(shopper)


@pytest.fixture
def staff_client(db) -> APIClient:
    return client_for(StaffUserFactory())


@pytest.fixture
def admin_user(db):
    """pytest-django's superuser (behind ``admin_client``), with a password that passes
    the password validators rather than its own "password"."""
    return StaffUserFactory(username="admin", is_superuser=True)


@pytest.fixture
def mug(db):
    return ProductFactory(sku="MUG-01", name="Mug", price="12.90", stock=10)


# --- The broker -------------------------------------------------------------------------


def task_queues():
    """The app's task queues (``task_queues``), each bound to the exchange Celery
    publishes to (reading ``app.amqp.queues`` fills in the default exchange)."""
    celery_app.amqp.queues  # noqa: B018
    return list(celery_app.conf.task_queues)


def queued_messages() -> dict[str, int]:
    """Messages waiting on each task queue (declaring it if it does not exist yet)."""
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        return {q.name: q.bind(channel).queue_declare()[1] for q in task_queues()}


def purge_queues() -> None:
    """Drop whatever is on our task queues (and, on Redis, the messages a consumer took
    without acking, which Redis would otherwise hand out again later)."""
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in task_queues():
            bound = queue.bind(channel)
            bound.declare()
            bound.purge()
        if conn.transport.driver_type == "redis":
            channel.client.delete(channel.unacked_key, channel.unacked_index_key, channel.unacked_mutex_key)


@dataclass
class HandlerRunner:
    """Drains the broker, running each task in-process. Call it; it returns the names
    of the tasks it ran, in order."""

    idle_timeout: float = 0.1  # seconds without a message before the queues are checked
    max_rounds: int = 20
    max_messages: int = 200
    ran: list[str] = field(default_factory=list)

    def __call__(self) -> list[str]:
        start = len(self.ran)
        for _ in range(self.max_rounds):
            dispatch()
            self._consume_until_idle()
            # The consuming connection is closed: anything delivered to it and not acked
            # is back on its queue and counted here.
            if not any(queued_messages().values()) and not _undispatched():
                return self.ran[start:]
        pytest.fail(f"the broker did not settle after {self.max_rounds} rounds: {queued_messages()}")

    def _consume_until_idle(self) -> None:
        failures = []

        def on_message(body, message):
            if len(self.ran) >= self.max_messages:
                failures.append(f"more than {self.max_messages} messages: a handler loops? ran {self.ran}")
                message.requeue()
                return
            headers = message.headers or {}
            name, task_id = headers.get("task"), headers.get("id")
            if name is None:  # Celery's message protocol 1 carries them in the body
                name, task_id, args, kwargs = body["task"], body["id"], body["args"], body["kwargs"]
            else:
                args, kwargs, _embed = body
            result = celery_app.tasks[name].apply(args=args, kwargs=kwargs, task_id=task_id, throw=False)
            message.ack()
            self.ran.append(name)
            if result.failed():
                failures.append(f"task {name}[{task_id}] raised:\n{result.traceback}")

        # A short polling interval: the filesystem transport polls, and Redis's blocking
        # pop (its timeout is the polling interval) must return before the close.
        options = {"polling_interval": self.idle_timeout / 2}
        with (
            celery_app.connection_for_read(transport_options=options) as conn,
            Consumer(conn, queues=task_queues(), callbacks=[on_message], accept=["json"], prefetch_count=1),
        ):
            while not failures:
                try:
                    conn.drain_events(timeout=self.idle_timeout)
                except TimeoutError:  # socket.timeout: idle for idle_timeout
                    break
        if failures:
            pytest.fail("\n".join(failures))


def dispatch() -> int:
    """What the relay process does when events are recorded: dispatch every event that
    is due; returns how many were dispatched."""
    dispatched = 0
    while (report := event_services.dispatch_pending()).claimed:
        dispatched += report.dispatched
        if report.failed:
            break  # the broker refused: the next round tries again
    return dispatched


def _undispatched() -> bool:
    return event_selectors.due_for_dispatch(timezone.now()).exists()


@pytest.fixture
def broker():
    """The real broker, its task queues purged before and after the test."""
    purge_queues()
    yield
    purge_queues()


@pytest.fixture
def run_handlers(broker) -> HandlerRunner:
    return HandlerRunner()
