"""Telling customers what happened to their orders: in-app and by email.

Each notification is tied to the event that caused it (unique per event and kind),
and is stored in the same transaction as the handler's done-mark, so a redelivered
event neither stores nor sends a second message. The email is sent inside that
transaction, just before it commits: SMTP cannot take part in it, so a crash in the
narrow gap between the server accepting the mail and the commit sends it again on
retry (at-least-once for email, as for any SMTP sender). The copy carries the same
Message-ID, derived from the event, so a receiving system can tell it apart.

Services that a handler calls join its transaction whole (``atomic(savepoint=False)``):
the effect and the run's done-mark commit together or not at all, and a failure rolls
back the caller's transaction with it, without a savepoint's two extra round trips.
Called on their own, they are a transaction of their own.
"""

from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from customers import selectors as customer_selectors
from orders import selectors as order_selectors
from orders.signals import CancelReason

from . import mail
from .models import EmailRecord, Kind, Notification

# What the customer is told, for each reason (a new reason without wording fails the
# notifications tests, not a customer's email).
CANCEL_REASONS = {
    CancelReason.PAYMENT_DECLINED: "the payment was declined",
    CancelReason.CUSTOMER: "you cancelled it",
    CancelReason.STAFF: "our staff cancelled it",
    CancelReason.PAYMENT_TIMEOUT: "we did not receive its payment in time",
}


@transaction.atomic(savepoint=False)
def notify_order_confirmed(*, order_id: int, customer_id: int, event_key) -> Notification | None:
    """Paid: store the in-app notification and send the confirmation email.

    Nothing if the order was cancelled before this ran: its cancellation message
    (which mentions the refund) is the one that is still true.
    """
    order = order_selectors.order_summary(order_id)
    if not order["is_paid"]:
        return None
    return _notify(
        kind=Kind.ORDER_CONFIRMED,
        customer_id=customer_id,
        order_id=order_id,
        event_key=event_key,
        title=f"Order #{order_id} confirmed",
        context={"order": order},
    )


@transaction.atomic(savepoint=False)
def notify_order_cancelled(
    *, order_id: int, customer_id: int, reason: CancelReason, was_paid: bool, event_key
) -> Notification:
    """Cancelled: store the in-app notification and send the cancellation email."""
    order = order_selectors.order_summary(order_id)
    return _notify(
        kind=Kind.ORDER_CANCELLED,
        customer_id=customer_id,
        order_id=order_id,
        event_key=event_key,
        title=f"Order #{order_id} cancelled",
        context={"order": order, "reason": CANCEL_REASONS[reason], "was_paid": was_paid},
    )


def _notify(*, kind: str, customer_id: int, order_id: int, event_key, title: str, context: dict) -> Notification:
    existing = Notification.objects.filter(source_event=event_key, kind=kind).first()
    if existing:
        return existing
    contact = customer_selectors.contact(customer_id)
    body = render_to_string(f"notifications/{kind}.txt", {"contact": contact, **context})
    notification = Notification.objects.create(
        customer_id=customer_id, kind=kind, order_id=order_id, title=title, body=body, source_event=event_key
    )
    if contact.email:
        message_id = f"<{kind}.{event_key}@orderflow>"
        mail.send(EmailMessage(subject=title, body=body, to=[contact.email], headers={"Message-ID": message_id}))
        EmailRecord.objects.create(
            customer_id=customer_id,
            kind=kind,
            order_id=order_id,
            to=contact.email,
            subject=title,
            message_id=message_id,
            source_event=event_key,
        )
    return notification


@transaction.atomic
def mark_read(*, notification: Notification) -> Notification:
    """Idempotent: the first read time is kept."""
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification
