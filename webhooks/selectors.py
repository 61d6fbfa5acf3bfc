import time

from django.db.models import Count

from .models import Attempt, Delivery, Endpoint

# The dispatcher asks for every event whether any endpoint wants its type: the answer is
# kept this many seconds per process, so with no endpoint the pipeline pays nothing.
WANTED_TYPES_TTL = 1.0
_wanted: tuple[float, frozenset[str]] = (0.0, frozenset())


def wanted_types() -> frozenset[str]:
    """The event types some enabled endpoint receives (cached for about a second)."""
    global _wanted
    expires, types = _wanted
    now = time.monotonic()
    if now < expires:
        return types
    enabled = Endpoint.objects.filter(enabled=True).values_list("event_types", flat=True)
    types = frozenset(t for ts in enabled for t in ts)
    _wanted = (now + WANTED_TYPES_TTL, types)
    return types


def forget_wanted_types() -> None:
    """This process changed the endpoints: ask the database next time (other processes
    see the change within ``WANTED_TYPES_TTL``)."""
    global _wanted
    _wanted = (0.0, frozenset())


def someone_wants(event) -> bool:
    return event.type in wanted_types()


def endpoint_list():
    return Endpoint.objects.order_by("id")


def endpoint_get(endpoint_id: int) -> Endpoint | None:
    return Endpoint.objects.filter(pk=endpoint_id).first()


def attempts_of(endpoint: Endpoint):
    """The endpoint's delivery attempts, newest first."""
    return (
        Attempt.objects.filter(delivery__endpoint=endpoint)
        .select_related("delivery__event")
        .order_by("-created_at", "-id")
    )


def attempt_counts() -> dict[str, int]:
    """Delivery attempts by outcome (for /metrics)."""
    counts = dict.fromkeys(Attempt.Outcome.values, 0)
    counts.update(dict(Attempt.objects.values_list("outcome").annotate(n=Count("id")).values_list("outcome", "n")))
    return counts


def deliveries_by_status() -> dict[str, int]:
    counts = dict.fromkeys(Delivery.Status.values, 0)
    counts.update(dict(Delivery.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")))
    return counts
