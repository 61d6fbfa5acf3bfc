from events import public
from events.models import Event
from project.faults import crash_point

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
    if not sinks.is_enabled(sink_name):
        # A run made while the sink was configured: it waits (retries, then the dead
        # letter) for the setting to come back rather than pass as exported.
        raise RuntimeError(f"{sinks.SETTINGS[sink_name]} is not set: cannot export to {sink_name}")
    added = sinks.get(sink_name).publish(event)
    # The fault tests kill the worker here: the sink has the event, the run is not done.
    crash_point("exports.after_publish")
    return added
