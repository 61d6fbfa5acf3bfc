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
    logs = Path(settings.VAR_DIR) / "e2e-logs"  # kept after the run, for a look when something failed
    with running_stack(logs) as stack:
        yield stack


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
