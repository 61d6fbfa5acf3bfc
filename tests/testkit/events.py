"""A throwaway event type's payload (``ThingHappened``, registered by the
``always_fails`` fixture of tests/events/conftest.py) and recording one
(``record_thing``). Used by the events tests."""

from django.db import transaction

from events import services
from events.models import Event
from events.types import Payload


class ThingHappened(Payload):
    thing_id: int


def record_thing(event_type, thing_id=7) -> Event:
    with transaction.atomic():
        return services.record(event_type.payload(thing_id=thing_id))
