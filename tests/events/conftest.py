"""Fixtures of the events tests: a throwaway event type whose handler always fails."""

import pytest

from events import subscriptions, types
from events.handlers import event_handler
from events.subscriptions import subscribe
from events.types import EventType
from project.celery import app as celery_app
from tests.factories import ProductFactory
from tests.testkit.events import ThingHappened


@pytest.fixture
def always_fails():
    """A throwaway event type whose one handler writes, then always raises; 3 attempts."""
    thing_happened = EventType("tests.thing_happened", ThingHappened, stream="thing")

    @event_handler("tests.always_fails", queue="events", max_attempts=3)
    def handler(event):
        ProductFactory(sku=f"THING-{event.data.thing_id}")  # an effect that must roll back
        raise RuntimeError(f"boom on thing {event.data.thing_id}")

    subscribe(thing_happened, handler)
    yield thing_happened
    thing_happened.disconnect(dispatch_uid="tests.always_fails")
    subscriptions._subscriptions[:] = [s for s in subscriptions._subscriptions if s.event_type is not thing_happened]
    types._registry.pop(thing_happened.name)
    ThingHappened.event_type = None
    celery_app.tasks.unregister("tests.always_fails")
