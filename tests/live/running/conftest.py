"""The live stream on the running system. The stack is package-scoped: its processes
touch the database, so it runs only while this folder's tests do (not beside the
in-process tests of tests/live, whose database is flushed after each)."""

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.testkit.api import Api
from tests.testkit.stack import running_stack, settle


@pytest.fixture(scope="package")
def asgi_stack(django_db_setup):
    """The running system as the Procfile starts it, the web process on ``project.asgi``
    (gunicorn with uvicorn workers), plus worker, relay, SMTP sink and broker proxy
    (tests/testkit/stack.py); the demo page's static files collected for it."""
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
