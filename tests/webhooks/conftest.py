"""Webhook test fixtures: a staff API client, receivers on loopback, and a retry
schedule of zeros (the in-process runner runs a countdown message at once; a retry that
is not yet due would be skipped as early)."""

import pytest

from tests.testkit.processes import free_port
from webhooks import selectors

from .receiver import Receiver


@pytest.fixture(autouse=True)
def _no_cached_endpoint_types():
    """The dispatcher's cache of wanted types outlives the test's endpoints: forgotten
    before and after, so no test sees another's endpoints."""
    selectors.forget_wanted_types()
    yield
    selectors.forget_wanted_types()


@pytest.fixture
def fast_retries(settings):
    settings.WEBHOOKS_RETRY_SCHEDULE = [0.0] * 10
    return settings


@pytest.fixture
def receivers():
    """Make receivers with ``receivers(secrets=..., answers=...)``; all stopped after."""
    made: list[Receiver] = []

    def make(secrets=None, answers=None) -> Receiver:
        receiver = Receiver(secrets, answers).start()
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (connections refused)."""
    return free_port()
