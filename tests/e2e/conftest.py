"""End-to-end fixtures: the real processes, on the real broker and database.

``stack`` is package-scoped: started by the first e2e test, stopped after the last
one, so no worker outlives them to take messages meant for the in-process tests that
run after them. It is ``tests.testkit.stack.running_stack`` (SMTP sink, broker proxy,
worker, gunicorn, relay), with its logs in ``var/test/e2e-logs/``.

Each test gets ``e2e``: a transactional database seeded with the demo catalog, and a
signed-up customer talking HTTP to the web process. After the test it waits until
every event is dispatched and every handler run is finished, so that the database is
flushed with no work in flight.
"""

from pathlib import Path

import pytest
from django.conf import settings

from tests.testkit.api import customer
from tests.testkit.stack import require_network_broker, running_stack, settle


@pytest.fixture(scope="package")
def stack(django_db_setup):
    """The running system: SMTP server, broker proxy, worker, web server, relay."""
    # Kept after the run, for a look when something failed.
    with running_stack(Path(settings.VAR_DIR) / "e2e-logs") as stack:
        yield stack


@pytest.fixture
def e2e(stack, transactional_db):
    """A seeded catalog and a signed-up customer; on the way out, no work in flight."""
    try:
        yield customer(stack)
    finally:
        settle(stack)


@pytest.fixture
def network_broker(stack):
    return require_network_broker(stack)
