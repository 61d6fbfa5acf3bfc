"""What the fault scenarios and scripts/soak.py share: a stream of orders that survives
a dropped connection, and the check that every order came out right.

``tally(order_ids, smtp)`` looks at everything an order touched — its status, its
events and their handler runs, the sandbox gateway's own ledger, the payment row, the
points ledger and the mails the SMTP server took — and returns the counts with a list
of problems, each naming the order. ``Shop.verify`` waits for quiescence, prints the
counts and fails on any problem, or on any finding of the project's invariant checker
(audit/invariants.py), which sees what the database alone can tell.
"""

import itertools
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from audit.invariants import check_invariants
from catalog import services as catalog_services
from catalog.models import Product
from customers.models import PointsEntry
from events.models import Event, HandlerRun
from orders.models import Order
from payments.gateways.sandbox import SandboxGateway
from payments.models import Payment
from project.faults import CRASH_LINE
from tests.testkit.api import Api
from tests.testkit.smtp import SmtpSink
from tests.testkit.stack import Stack, settled

# How long the stack may take to recover from a fault: leases run out, the relay sends
# again (each re-send waiting twice as long as the last), retries back off.
RECOVERY = 180.0
# For a stack under faults: a handler lease of 6 s (a killed worker's run is sent again
# after 6 s, not 45), retries backing off at most 1 s, and a dispatcher's claim on its
# batch of 2 s (a killed relay's events are taken over after 2 s, not 5).
# Webhook retries a second or two apart instead of Standard Webhooks' three days.
FAULT_STACK_ENV = {
    "EVENTS_HANDLER_TIMEOUT": "6",
    "EVENTS_RETRY_BACKOFF_MAX": "1",
    "EVENTS_DISPATCH_LEASE": "2",
    "WEBHOOKS_RETRY_SCHEDULE": "0,1,1,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2",
}
SKUS = ("MUG-01", "TEE-01", "CAP-01", "BAG-01", "STICKER-01")


def stock_up(units: int = 10**6) -> None:
    """Stock to spare for a stream of orders, received as staff receive it (so the
    stock stays accounted for)."""
    for product in Product.objects.all():
        catalog_services.update_product(product=product, stock=units)


@dataclass
class Stream:
    """Orders placed one after another by one customer; every ``declined_every``-th
    with a declined card. A request whose connection dies (the web process was
    killed) is counted in ``dropped``, not retried: its order may well exist."""

    api: Api
    declined_every: int = 4
    accepted: list[int] = field(default_factory=list)
    dropped: int = 0
    _seq: itertools.count = field(default_factory=itertools.count)

    def place(self, count: int) -> None:
        for _ in range(count):
            n = next(self._seq)
            token = "tok_declined" if n % self.declined_every == self.declined_every - 1 else "tok_ok"
            items = [{"sku": SKUS[n % len(SKUS)], "quantity": 1 + n % 3}]
            try:
                response = self.api.session.post(
                    self.api.url("orders"), json={"items": items, "payment_token": token}, timeout=30
                )
            except requests.ConnectionError:
                self.dropped += 1
                continue
            assert response.status_code == 201, f"POST orders: {response.status_code} {response.text}"
            self.accepted.append(response.json()["id"])

    def committed(self) -> list[int]:
        """Every order of this customer in the database: answered or not."""
        return list(
            Order.objects.filter(customer__user__username=self.api.username).order_by("id").values_list("id", flat=True)
        )


@dataclass
class Tally:
    orders: int = 0
    paid: int = 0
    cancelled: int = 0
    stuck: int = 0  # neither paid nor cancelled, or work left open or failed
    charges: int = 0  # captures in the gateway's ledger
    refunds: int = 0
    emails: int = 0  # distinct messages (by Message-ID)
    email_resends: int = 0  # extra copies of a message (same Message-ID): at-least-once SMTP
    points: int = 0  # points entries
    double_charges: int = 0
    double_emails: int = 0
    double_points: int = 0
    problems: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if k != "problems"}

    def line(self, **extra) -> str:
        return " ".join(f"{k}={v}" for k, v in {**self.counts(), **extra}.items())


def _order_id(stream: str) -> int:
    return int(stream.split(":", 1)[1])


def tally(order_ids: list[int], smtp: SmtpSink) -> Tally:
    t = Tally(orders=len(order_ids))
    orders = Order.objects.in_bulk(order_ids)
    events = defaultdict(list)
    for event in Event.objects.filter(stream__in=[f"order:{i}" for i in order_ids]).order_by("id"):
        events[_order_id(event.stream)].append(event)
    event_ids = [e.pk for es in events.values() for e in es]
    unfinished = defaultdict(list)
    open_runs = HandlerRun.objects.filter(event_id__in=event_ids).exclude(status=HandlerRun.Status.DONE)
    for run in open_runs.select_related("event"):
        unfinished[_order_id(run.event.stream)].append(f"{run.handler}: {run.status} {run.last_error[:200]}")
    gateway = SandboxGateway()
    captures = {c["idempotency_key"]: c for c in gateway.captured_charges()}
    refunds = Counter(r["charge_id"] for r in gateway.refunds())
    payments = {p.order_id: p for p in Payment.objects.filter(order_id__in=order_ids)}
    points = defaultdict(list)
    for entry in PointsEntry.objects.filter(order_id__in=order_ids):
        points[entry.order_id].append(entry)
    copies = Counter(str(m.message["Message-ID"]) for m in smtp.all())

    for order_id in order_ids:
        order = orders.get(order_id)
        if order is None:
            t.problems.append(f"order #{order_id}: missing")
            continue
        problems = _check_order(t, order, events[order_id], captures, refunds, payments.get(order_id), copies)
        problems += _check_points(t, order, points[order_id])
        problems += [f"undispatched {e.type}" for e in events[order_id] if e.dispatched_at is None]
        problems += [f"run not done: {r}" for r in unfinished[order_id]]
        if order.status not in (Order.Status.PAID, Order.Status.CANCELLED) or unfinished[order_id]:
            t.stuck += 1
        t.problems += [f"order #{order_id} ({order.status}): {p}" for p in problems]
    return t


def _check_order(t: Tally, order, events, captures, refunds, payment, copies) -> list[str]:
    problems = []
    types = Counter(e.type for e in events)
    by_type = {e.type: e for e in events}
    if types["order.placed"] != 1:
        return [f"{types['order.placed']} order.placed events"]
    capture = captures.get(str(by_type["order.placed"].key))
    if capture:
        t.charges += 1
        if capture["amount"] != str(order.total):
            problems.append(f"charged {capture['amount']}, total {order.total}")
        if payment is None or payment.charge_id != capture["charge_id"]:
            # A charge the database does not know: taken after a crash and then taken
            # again under another id would look like this.
            t.double_charges += 1
            problems.append(f"gateway charge {capture['charge_id']} is not the payment's")
    refunded = refunds.get(capture["charge_id"], 0) if capture else 0
    t.refunds += refunded
    if types["order.paid"] > 1 or types["order.cancelled"] > 1 or types["payment.captured"] > 1:
        problems.append(f"an outcome recorded twice: {dict(types)}")

    def mails(kind: str, event_type: str) -> int:
        """Distinct messages of ``kind`` for the order, counting the extra copies."""
        sent = 0
        for event in (e for e in events if e.type == event_type):
            n = copies.get(f"<{kind}.{event.key}@orderflow>", 0)
            sent += n > 0
            t.email_resends += max(0, n - 1)
        t.emails += sent
        return sent

    confirmations = mails("order_confirmed", "order.paid")
    cancellations = mails("order_cancelled", "order.cancelled")
    if order.status == Order.Status.PAID:
        t.paid += 1
        if not capture or types["payment.captured"] != 1 or types["order.paid"] != 1 or types["order.cancelled"]:
            problems.append(f"paid without exactly one capture: ledger {bool(capture)}, events {dict(types)}")
        if refunded:
            problems.append("paid, yet refunded")
        if confirmations != 1 or cancellations:
            problems.append(f"{confirmations} confirmation and {cancellations} cancellation emails")
    elif order.status == Order.Status.CANCELLED:
        t.cancelled += 1
        if types["order.cancelled"] != 1:
            problems.append(f"cancelled without one order.cancelled: {dict(types)}")
        if capture and refunded != 1:
            problems.append(f"captured and cancelled: {refunded} refunds")
        if not capture and (payment is None or payment.status not in (Payment.Status.FAILED, Payment.Status.VOIDED)):
            problems.append(f"never captured, payment {payment.status if payment else None}")
        if cancellations != 1 or confirmations != types["order.paid"]:
            problems.append(f"{confirmations} confirmation and {cancellations} cancellation emails")
    if confirmations > 1 or cancellations > 1:
        t.double_emails += 1
    return problems


def _check_points(t: Tally, order, entries) -> list[str]:
    t.points += len(entries)
    awards = [e for e in entries if e.reason == PointsEntry.Reason.ORDER_PAID]
    if len(awards) > 1:
        t.double_points += 1
    if order.status == Order.Status.PAID:
        expected = math.floor(order.total)
        if [e.amount for e in entries] != [expected]:
            return [f"points {[(e.reason, e.amount) for e in entries]}, expected one award of {expected}"]
    elif sum(e.amount for e in entries) != 0:
        return [f"cancelled, yet points {[(e.reason, e.amount) for e in entries]}"]
    return []


def crash_kills(log: str) -> int:
    return log.count(CRASH_LINE)


@dataclass
class Shop:
    """A fault scenario's view of the running stack: its customer, and the report."""

    stack: Stack
    api: Api
    say: Callable[[str], None] = print
    started: float = field(default_factory=time.monotonic)
    _kills_before: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._kills_before = {role: crash_kills(getattr(self.stack, role).all_logs()) for role in ("web", "worker")}

    def stream(self, **options) -> Stream:
        return Stream(self.api, **options)

    def crash_kills(self, role: str) -> int:
        """Crash points hit by the ``role`` process (and its restarts) in this test."""
        return crash_kills(getattr(self.stack, role).all_logs()) - self._kills_before[role]

    def quiesce(self, order_ids: list[int]) -> None:
        """Wait until every event is dispatched and every run finished, and every
        order is paid or cancelled."""
        final = (Order.Status.PAID, Order.Status.CANCELLED)

        def done() -> bool:
            # Orders first: an order's status and the event announcing it commit
            # together, so once every order is final, settled() sees that event's
            # work. The other way round, a payment landing between the two reads
            # passed for quiet with its order.paid undispatched.
            return not Order.objects.filter(pk__in=order_ids).exclude(status__in=final).exists() and settled()

        self.stack.wait_for(done, f"{len(order_ids)} orders to be paid or cancelled, no work open", timeout=RECOVERY)

    def verify(self, order_ids: list[int], *, email_resends_allowed: int = 0, **report) -> Tally:
        """Quiescence, then every order checked; prints the counts with ``report``."""
        self.quiesce(order_ids)
        t = tally(order_ids, self.stack.smtp)
        self.say(f"{t.line(**report)} seconds={time.monotonic() - self.started:.0f}")
        assert not t.problems, "\n".join(t.problems)
        assert t.orders > 0
        assert t.paid + t.cancelled == t.orders
        assert t.email_resends <= email_resends_allowed, f"{t.email_resends} emails sent again"
        # And the project's own checker (``manage.py check_invariants``), over everything.
        assert check_invariants() == []
        return t
