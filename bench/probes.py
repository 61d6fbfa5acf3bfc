"""What the bench reads from the run's database while the system works.

"Fully processed" for an order means what the customer is owed: the order is
``paid``, its loyalty points entry exists, its in-app notification is stored (all
three read here) and its confirmation email was accepted by the SMTP sink (counted
from the sink's file, ``bench.smtp_sink.MailLog``). The sections count orders by id
window (ids above the last one before the window), so that what earlier sections left
in the tables does not count.

Every query that knows the events' schema (``Event.stream``, ``HandlerRun``'s status
and ``finished_at``) is in this module, so that a change to it is mended here alone.
"""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Exists, Max, Min, OuterRef

from customers.models import PointsEntry
from events.models import Event, HandlerRun
from notifications.models import EmailRecord, Kind, Notification
from orders.models import Order


def last_order_id() -> int:
    return Order.objects.aggregate(last=Max("id"))["last"] or 0


def placed(after_id: int) -> int:
    return Order.objects.filter(pk__gt=after_id).count()


def processed(after_id: int) -> int:
    """Orders past ``after_id`` that are paid, with their points and their notification."""
    return (
        Order.objects.filter(pk__gt=after_id, status=Order.Status.PAID)
        .filter(
            Exists(PointsEntry.objects.filter(order=OuterRef("pk"), reason=PointsEntry.Reason.ORDER_PAID)),
            Exists(Notification.objects.filter(order=OuterRef("pk"), kind=Kind.ORDER_CONFIRMED)),
        )
        .count()
    )


def settled() -> bool:
    """No work in flight: every event dispatched and no handler run open."""
    return (
        not Event.objects.filter(dispatched_at=None).exists()
        and not HandlerRun.objects.filter(status__in=HandlerRun.OPEN).exists()
    )


def undispatched_events() -> int:
    return Event.objects.filter(dispatched_at=None).count()


def end_to_end_seconds(after_id: int, upto_id: int) -> list[float]:
    """Per order in (after_id, upto_id]: seconds from its creation (``Order.created_at``)
    to the moment its last handler finished (the latest ``HandlerRun.finished_at`` over
    the runs of the events of its stream, ``order:<id>``). Orders with a run still
    open are left out."""
    quote = connection.ops.quote_name
    orders, events, runs = (quote(m._meta.db_table) for m in (Order, Event, HandlerRun))
    query = f"""
        SELECT EXTRACT(EPOCH FROM max(r.finished_at) - o.created_at)
        FROM {orders} o
        JOIN {events} e ON e.stream = 'order:' || o.id
        JOIN {runs} r ON r.event_id = e.id
        WHERE o.id > %s AND o.id <= %s
        GROUP BY o.id, o.created_at
        HAVING count(*) = count(r.finished_at)
    """
    with connection.cursor() as cursor:
        cursor.execute(query, [after_id, upto_id])
        return [float(seconds) for (seconds,) in cursor.fetchall()]


@dataclass(frozen=True)
class RunsFinished:
    count: int
    first: float | None  # epoch seconds of the first and last finish
    last: float | None

    @property
    def rate(self) -> float:
        """Runs finished per second between the first and the last finish."""
        if self.count < 2 or self.last is None or self.last <= self.first:
            return 0.0
        return (self.count - 1) / (self.last - self.first)


def runs_finished(after_id: int) -> RunsFinished:
    """Handler runs finished on the events of orders past ``after_id``."""
    streams = [f"order:{pk}" for pk in Order.objects.filter(pk__gt=after_id).values_list("pk", flat=True)]
    stats = HandlerRun.objects.filter(event__stream__in=streams, finished_at__isnull=False).aggregate(
        count=Count("id"), first=Min("finished_at"), last=Max("finished_at")
    )
    return RunsFinished(
        count=stats["count"],
        first=stats["first"].timestamp() if stats["first"] else None,
        last=stats["last"].timestamp() if stats["last"] else None,
    )


def audit(after_id: int, upto_id: int, accepted_mail_ids: dict[str, int]) -> dict:
    """Check every order in (after_id, upto_id]: paid, exactly one points entry, one
    notification, one email record, and that email accepted by the SMTP sink exactly
    once. Returns the counts and the offending order ids per problem."""
    window = {"order_id__gt": after_id, "order_id__lte": upto_id}
    statuses = dict(Order.objects.filter(pk__gt=after_id, pk__lte=upto_id).values_list("pk", "status"))
    points = _per_order(PointsEntry.objects.filter(reason=PointsEntry.Reason.ORDER_PAID, **window))
    notes = _per_order(Notification.objects.filter(kind=Kind.ORDER_CONFIRMED, **window))
    emails: dict[int, list[str]] = {}
    for order_id, message_id in EmailRecord.objects.filter(kind=Kind.ORDER_CONFIRMED, **window).values_list(
        "order_id", "message_id"
    ):
        emails.setdefault(order_id, []).append(message_id)
    problems = {
        "not paid": [pk for pk, status in statuses.items() if status != Order.Status.PAID],
        "points entries != 1": [pk for pk in statuses if points.get(pk, 0) != 1],
        "notifications != 1": [pk for pk in statuses if notes.get(pk, 0) != 1],
        "email records != 1": [pk for pk in statuses if len(emails.get(pk, [])) != 1],
        "email not accepted once by the SMTP sink": [
            pk for pk in statuses if [accepted_mail_ids.get(m, 0) for m in emails.get(pk, [])] != [1]
        ],
    }
    return {
        "orders": len(statuses),
        "problems": {name: len(ids) for name, ids in problems.items()},
        "examples": {name: ids[:10] for name, ids in problems.items() if ids},
        "ok": not any(problems.values()),
    }


def _per_order(queryset) -> dict[int, int]:
    return dict(queryset.values("order_id").annotate(n=Count("id")).values_list("order_id", "n"))
