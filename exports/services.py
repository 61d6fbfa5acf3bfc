from events import public
from events.models import Event

from . import sinks


def export(event: Event, sink_name: str) -> bool:
    """Publish ``event``'s public envelope to the sink ``sink_name``.

    Guarantees: returns only once the backend has the event (Redis: the XADD ran;
    NATS: JetStream acknowledged; Kafka: the delivery callback reported success),
    raises otherwise, so the handler run is retried. Called again for the same event
    (a re-sent or redelivered run) it adds no second copy where the backend can tell:
    Redis by the marker set with the XADD, NATS by ``Nats-Msg-Id``; Kafka may receive
    it again (consumers de-duplicate on the id). Writes nothing to our database and
    records no event. Returns whether the sink added it (False: it had it already).
    """
    if not public.is_public(event.type):
        raise ValueError(f"{event.type} is not a public event type: it is not exported")
    return sinks.get(sink_name).publish(event)
