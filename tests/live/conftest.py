import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from live import db
from tests.e2e.conftest import settle
from tests.e2e.harness import Api, running_stack


@pytest.fixture
def live_db(transactional_db):
    """The streams read on threads of their own (``live.db``): the test's rows must be
    committed for them to see, and their connections closed before the database is
    flushed or dropped."""
    yield
    db.close()


@pytest.fixture(scope="package")
def asgi_stack(django_db_setup):
    """The running system as the Procfile starts it, the web process on ``project.asgi``
    (gunicorn with uvicorn workers), plus worker, relay, SMTP sink and broker proxy
    (tests/e2e/harness.py); the demo page's static files collected for it."""
    call_command("collectstatic", "--noinput", verbosity=0)
    with running_stack(Path(settings.VAR_DIR) / "live-logs", web="asgi") as stack:
        yield stack


@pytest.fixture
def shopper_on_asgi(asgi_stack, transactional_db):
    """A seeded catalog and a signed-up customer of the ASGI stack; on the way out, no
    work in flight."""
    call_command("seed_demo", stdout=io.StringIO())
    asgi_stack.check_alive()
    try:
        yield Api(asgi_stack).sign_up()
    finally:
        if not asgi_stack.worker.alive():
            asgi_stack.restart("worker")
        settle(asgi_stack)
