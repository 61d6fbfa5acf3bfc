"""Fixtures shared by the unit and API tests.

``run_handlers`` runs the event flow in-process against the REAL configured broker
(``CELERY_BROKER_URL``: filesystem, Redis or RabbitMQ): it purges the task queues when
the test starts, and when called does what the relay and the workers do: dispatches
every recorded event (``events.services.dispatch_pending``), consumes every message on
the queues, runs each task with ``Task.apply`` under the message's own task id, acks
it, and repeats until no event is left undispatched and the queues stay empty. Use it
with ``@pytest.mark.django_db(transaction=True)`` so that commits are real.
``dispatch`` alone is the dispatcher's pass, for tests that look at what it sent. Both
live in ``tests.testkit.handlers``, with the other helpers tests import (``tests.testkit``).

End-to-end and fault tests (``tests/e2e``, ``tests/faults``; markers ``e2e``,
``faults``) run real workers in other processes; the in-process overrides below leave
them alone.
"""

from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from payments.gateways import get_gateway

from .factories import ProductFactory, StaffUserFactory, UserFactory
from .testkit.broker import purge_queues
from .testkit.clients import client_for
from .testkit.handlers import HandlerRunner


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
@pytest.fixture
def broker():
    """The real broker, its task queues purged before and after the test."""
    purge_queues()
    yield
    purge_queues()


@pytest.fixture
def run_handlers(broker) -> HandlerRunner:
    return HandlerRunner()
