"""Fault-injection fixtures: the end-to-end tests' real stack, with short recovery times.

``stack`` (package-scoped) is ``tests.testkit.stack.running_stack`` — SMTP sink, broker proxy,
celery worker, gunicorn, relay on the configured database and broker, logs in
``var/test/faults-logs/`` — with a handler lease of 6 s (a killed worker's run is sent
again after 6 s, not 45) and retries backing off at most 1 s. It needs a network
broker (RabbitMQ or Redis): CI runs this package on both (phases (a) and (b) of
.ci/run).

``shop`` gives each test a seeded catalog with stock to spare, a signed-up customer
and its report; on the way out every process a test restarted with faults (or other
queues) is put back as it started, and the test waits for no work in flight.
"""

import io
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.testkit.api import customer
from tests.testkit.stack import DEFAULT_PORTS, running_stack, settle

from .scenario import FAULT_STACK_ENV, Shop, stock_up

ROLES = ("worker", "web", "relay")


@pytest.fixture(scope="package")
def stack(django_db_setup):
    scheme = urlsplit(settings.CELERY_BROKER_URL).scheme
    if scheme not in DEFAULT_PORTS:
        pytest.skip(
            f"fault tests need a network broker (RabbitMQ or Redis), not {scheme}://, whose "
            "connection they can cut; CI runs them on PostgreSQL + RabbitMQ and PostgreSQL + Redis"
        )
    with running_stack(Path(settings.VAR_DIR) / "faults-logs", extra_env=FAULT_STACK_ENV) as stack:
        stack.baseline = {role: (getattr(stack, role).args, getattr(stack, role).env) for role in ROLES}
        yield stack


@pytest.fixture
def shop(stack, transactional_db, capsys):
    call_command("seed_demo", stdout=io.StringIO())
    stock_up()  # the streams measure faults, not running out

    def say(line: str) -> None:
        with capsys.disabled():
            print(f"\n    {line}")

    try:
        yield Shop(stack, customer(stack), say=say)
    finally:
        if stack.proxy is not None:
            stack.proxy.on()
        for role in ROLES:
            args, env = stack.baseline[role]
            proc = getattr(stack, role)
            if (proc.args, proc.env) != (args, env) or not proc.alive():
                # SIGKILL: quicker than a warm stop, and what it may cut short the
                # relay sends again.
                stack.restart(role, kill=True, args=args, env={**dict.fromkeys(proc.env), **env})
        settle(stack)
