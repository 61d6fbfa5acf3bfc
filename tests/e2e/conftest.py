"""End-to-end fixtures: the real processes, on the real broker and database.

``stack`` is package-scoped: started by the first e2e test, stopped after the last
one, so no worker outlives them to take messages meant for the in-process tests that
run after them. It is ``harness.running_stack`` (SMTP sink, broker proxy, worker,
gunicorn, relay; see harness.py), with its logs in ``var/test/e2e-logs/``.

Each test gets ``e2e``: a transactional database seeded with the demo catalog, and a
signed-up customer talking HTTP to the web process. After the test it waits until
every event is dispatched and every handler run is finished, so that the database is
flushed with no work in flight.
"""

import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command

from .harness import Api, running_stack, settled


@pytest.fixture(scope="package")
def stack(django_db_setup):
    """The running system: SMTP server, broker proxy, worker, web server, relay."""
    # Kept after the run, for a look when something failed.
    with running_stack(Path(settings.VAR_DIR) / "e2e-logs") as stack:
        yield stack


def customer(stack) -> Api:
    """A seeded catalog and a signed-up customer of a running stack."""
    call_command("seed_demo", stdout=io.StringIO())
    stack.check_alive()
    return Api(stack).sign_up()


def settle(stack) -> None:
    """Broker back on, and no work in flight: the database is flushed next, so the
    worker must be done with it first."""
    if stack.proxy is not None:
        stack.proxy.on()
    stack.wait_for(settled, "every event dispatched and every handler run finished")


@pytest.fixture
def e2e(stack, transactional_db):
    """A seeded catalog and a signed-up customer; on the way out, no work in flight."""
    try:
        yield customer(stack)
    finally:
        settle(stack)


def require_network_broker(stack):
    """The broker proxy; skips where there is no network broker to take away."""
    if stack.proxy is None:
        pytest.skip(
            f"the {urlsplit(stack.broker_url).scheme}:// broker has no network connection to cut; "
            "run with CELERY_BROKER_URL=amqp://... or redis://... for this test"
        )
    return stack.proxy


@pytest.fixture
def network_broker(stack):
    return require_network_broker(stack)
