"""Outbound webhooks: registering endpoints, fanning events out to them, and attempting
each delivery on its own schedule.

Guarantees:

* **One delivery per (event, endpoint).** ``fan_out`` runs in the ``webhooks.fan_out``
  handler run's transaction and creates the deliveries under a unique constraint: a
  redelivered event, or the handler run again, creates none twice.
* **One attempt at a time, never after success.** An attempt first takes the delivery's
  lease with one conditional UPDATE (pending, due, not leased), commits it, then makes
  the HTTP call outside any transaction, then records the outcome under the same lease.
  Duplicate messages, the sweep and a countdown retry race for the lease; the losers do
  nothing. A delivered delivery is never attempted again, except by staff's ``resend``.
* **Nothing lost.** Each delivery's next attempt is a time on its row
  (``next_attempt_at``); the periodic ``webhooks.sweep`` sends the due ones, so a lost
  message, a killed worker (its lease runs out) or a broker outage only delays it.
  Retries due soon are also sent as countdown messages (no wait for the sweep).
* **Bounded.** Standard Webhooks' schedule (``WEBHOOKS_RETRY_SCHEDULE``), then
  ``failed``; 410 Gone disables the endpoint and cancels its pending deliveries.

The receiver de-duplicates on ``webhook-id`` (the event's key): at-least-once, as every
webhook sender is (a crash between the receiver's 2xx and our record sends it again).
"""

import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import TypedDict, Unpack

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from events.models import Event
from events.public import PUBLIC_EVENT_TYPES, envelope_json
from project.celery import app as celery_app
from project.faults import publish_copies

from . import schedule, selectors, signing, targets, transport
from .models import Attempt, Delivery, Endpoint

logger = logging.getLogger(__name__)

# How long an attempt may hold its delivery beyond the connect and read timeouts: longer
# than the deliver task's hard time limit adds to them (webhooks.tasks).
LEASE_MARGIN = timedelta(seconds=45)
# A message for a delivery is expected to be taken within this long; after it, the sweep
# sends another (a lost message, a broker down when it was sent).
QUEUED_GRACE = timedelta(seconds=30)
# A countdown message may fire a hair early.
EARLY = timedelta(seconds=1)
SWEEP_BATCH = 500


class InvalidEndpoint(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# --- Endpoints ------------------------------------------------------------------------------
def _check_url(url: str) -> str:
    try:
        targets.resolve(url)
    except targets.UnsafeTarget as exc:
        raise InvalidEndpoint("url", str(exc)) from None
    return url


def _check_event_types(event_types: list[str]) -> list[str]:
    unknown = [t for t in event_types if t not in PUBLIC_EVENT_TYPES]
    if unknown:
        raise InvalidEndpoint(
            "event_types",
            f"Unknown event type {', '.join(map(repr, unknown))}: the public types are "
            f"{', '.join(sorted(PUBLIC_EVENT_TYPES))}.",
        )
    if not event_types:
        raise InvalidEndpoint("event_types", "Name at least one event type.")
    return sorted(set(event_types))


@transaction.atomic
def register_endpoint(*, url: str, event_types: list[str], description: str = "") -> Endpoint:
    """A new enabled endpoint with a new secret. The URL must be a safe target now
    (``webhooks.targets``) and every type public, else ``InvalidEndpoint``."""
    endpoint = Endpoint.objects.create(
        url=_check_url(url),
        event_types=_check_event_types(event_types),
        description=description,
        secret=signing.new_secret(),
    )
    selectors.forget_wanted_types()
    return endpoint


class EndpointChanges(TypedDict, total=False):
    """What staff may change of an endpoint (each optional)."""

    url: str
    event_types: list[str]
    description: str
    enabled: bool


@transaction.atomic
def update_endpoint(*, endpoint: Endpoint, **changes: Unpack[EndpointChanges]) -> Endpoint:
    """Change the URL, types, description or enabled; disabling cancels its pending
    deliveries (re-enabling does not bring them back: staff re-send what they want)."""
    # Checked before the row lock: checking a URL resolves its host (DNS may be slow).
    url = _check_url(changes["url"]) if "url" in changes else None
    event_types = _check_event_types(changes["event_types"]) if "event_types" in changes else None
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    if url is not None:
        endpoint.url = url
    if event_types is not None:
        endpoint.event_types = event_types
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        if changes["enabled"]:
            endpoint.enabled, endpoint.disabled_reason = True, ""
        else:
            _disable(endpoint, "disabled by staff")
    endpoint.save()
    selectors.forget_wanted_types()
    return endpoint


@transaction.atomic
def disable_endpoint(*, endpoint: Endpoint, reason: str) -> Endpoint:
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    _disable(endpoint, reason)
    endpoint.save()
    selectors.forget_wanted_types()
    return endpoint


def _disable(endpoint: Endpoint, reason: str) -> None:
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:500]
    Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).update(
        status=Delivery.Status.CANCELLED, next_attempt_at=None, last_error=f"endpoint disabled: {reason}"[:2000]
    )


@transaction.atomic
def delete_endpoint(*, endpoint: Endpoint) -> None:
    """The endpoint, its deliveries and their attempt log."""
    endpoint.delete()
    selectors.forget_wanted_types()


@transaction.atomic
def rotate_secret(*, endpoint: Endpoint, overlap: timedelta | None = None) -> Endpoint:
    """A new secret; the one it replaces keeps signing beside it for
    ``WEBHOOK_SECRET_OVERLAP``, so a receiver can switch without losing a delivery."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = timezone.now() + (overlap or settings.WEBHOOK_SECRET_OVERLAP)
    endpoint.secret = signing.new_secret()
    endpoint.save()
    return endpoint


# --- Fan-out ----------------------------------------------------------------------------------
@transaction.atomic(savepoint=False)
def fan_out(event: Event) -> list[int]:
    """One pending delivery of ``event`` for each enabled endpoint that wants its type,
    in the caller's transaction (the handler run's); their first attempts are sent once
    it commits. Idempotent: a delivery that exists is not made again nor re-sent."""
    wanted = [e.pk for e in Endpoint.objects.filter(enabled=True) if event.type in e.event_types]
    if not wanted:
        return []
    now = timezone.now()
    Delivery.objects.bulk_create(
        [
            Delivery(
                event=event,
                endpoint_id=endpoint_id,
                event_type=event.type,
                next_attempt_at=now,
                queued_until=now + QUEUED_GRACE,
            )
            for endpoint_id in wanted
        ],
        ignore_conflicts=True,
    )
    fresh = list(
        Delivery.objects.filter(
            event=event, endpoint_id__in=wanted, status=Delivery.Status.PENDING, attempts=0
        ).values_list("pk", flat=True)
    )
    transaction.on_commit(lambda: _send_all(fresh))
    return fresh


def _send(delivery_id: int, countdown: float = 0.0) -> bool:
    """Put an attempt of the delivery on the broker. A failure is only logged: the
    sweep sends it once its ``queued_until`` has passed."""
    try:
        for _ in range(publish_copies()):  # more than once only in fault tests
            celery_app.send_task("webhooks.deliver", args=[delivery_id], queue="webhooks", countdown=countdown or None)
    except Exception:
        logger.warning("webhook delivery #%s: not sent to the broker; the sweep sends it", delivery_id, exc_info=True)
        return False
    return True


def _send_all(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        if not _send(delivery_id):
            return


# --- Attempts ---------------------------------------------------------------------------------
def attempt(delivery_id: int) -> Attempt | None:
    """One attempt of the delivery, if it is due and nobody else is attempting it;
    returns its log row (None if there was nothing to do)."""
    token = uuid.uuid4().hex
    now = timezone.now()
    lease = timedelta(seconds=settings.WEBHOOKS_CONNECT_TIMEOUT + settings.WEBHOOKS_READ_TIMEOUT) + LEASE_MARGIN
    with transaction.atomic():
        # One statement on the row's own columns: of two racing claims, one wins.
        claimed = (
            Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING, next_attempt_at__lte=now + EARLY)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(lease_until=now + lease, lease_token=token, attempts=F("attempts") + 1, queued_until=None)
        )
    if not claimed:
        logger.info("webhook delivery #%s: not due, not pending or being attempted; skipped", delivery_id)
        return None
    delivery = Delivery.objects.select_related("endpoint", "event").get(pk=delivery_id)
    endpoint = delivery.endpoint
    number = delivery.attempts
    if number - delivery.schedule_offset > schedule.max_attempts():
        # Its earlier attempts never finished (a worker killed each time): give up.
        with transaction.atomic():
            Delivery.objects.filter(pk=delivery_id, lease_token=token).update(
                status=Delivery.Status.FAILED,
                next_attempt_at=None,
                lease_until=None,
                last_error="attempts exhausted: the last attempt never finished (worker killed or hung)",
            )
        return None
    if not endpoint.enabled:
        with transaction.atomic():
            Delivery.objects.filter(pk=delivery_id, lease_token=token).update(
                status=Delivery.Status.CANCELLED, next_attempt_at=None, lease_until=None, attempts=F("attempts") - 1
            )
        return None

    msg_id = str(delivery.event.key)
    body = envelope_json(delivery.event)
    timestamp = int(time.time())
    headers = signing.headers(endpoint.signing_secrets(), msg_id, timestamp, body)
    status_code: int | None = None
    answer: transport.Answer | None = None
    error = ""
    duration_ms = 0
    try:
        target = targets.resolve(endpoint.url)
        answer = transport.post(target, body, headers)
    except targets.UnsafeTarget as exc:
        outcome, error = Attempt.Outcome.REFUSED, str(exc)
    except transport.TransportError as exc:
        outcome, error, duration_ms = Attempt.Outcome.ERROR, str(exc), exc.duration_ms
    except Exception as exc:  # the soft time limit too; never leave the lease to run out
        logger.exception("webhook delivery #%s: attempt failed", delivery_id)
        outcome, error = Attempt.Outcome.ERROR, f"{type(exc).__name__}: {exc}"[:1000]
    else:
        status_code, duration_ms = answer.status, answer.duration_ms
        outcome = Attempt.Outcome.DELIVERED if 200 <= answer.status < 300 else Attempt.Outcome.REJECTED
        if 300 <= answer.status < 400:
            error = f"redirect to {answer.headers.get('location', '?')!r} not followed"[:1000]
        elif outcome != Attempt.Outcome.DELIVERED:
            error = f"answered {answer.status}"
    return _record(delivery, token, number, outcome, status_code, duration_ms, error, answer, timestamp)


def _record(
    delivery: Delivery,
    token: str,
    number: int,
    outcome: str,
    status_code: int | None,
    duration_ms: int,
    error: str,
    answer: transport.Answer | None,
    timestamp: int,
) -> Attempt:
    """The attempt's log row and the delivery's next state, in one transaction, if the
    lease is still this attempt's (else only the log row: a slower attempt than the
    lease allows must not undo what the next one decided)."""
    now = timezone.now()
    send_in = None
    with transaction.atomic():
        logged = Attempt.objects.create(
            delivery=delivery,
            number=number,
            outcome=outcome,
            status_code=status_code,
            duration_ms=duration_ms,
            error=error,
            response_excerpt=answer.excerpt if answer else "",
            webhook_timestamp=timestamp,
        )
        current = Delivery.objects.select_for_update().filter(pk=delivery.pk, lease_token=token).first()
        if current is None:
            return logged
        current.lease_until, current.lease_token = None, ""
        current.last_status_code, current.last_error = status_code, error
        if outcome == Attempt.Outcome.DELIVERED:
            current.status, current.delivered_at, current.next_attempt_at = Delivery.Status.DELIVERED, now, None
        elif status_code == 410:
            current.status, current.next_attempt_at = Delivery.Status.FAILED, None
            endpoint = Endpoint.objects.select_for_update().get(pk=current.endpoint_id)
            _disable(endpoint, f"the receiver answered 410 Gone to delivery #{current.pk}")
            endpoint.save()
            selectors.forget_wanted_types()
        else:
            delay = schedule.delay_before(number - current.schedule_offset + 1)
            if delay is not None and answer is not None and status_code in schedule.RETRY_AFTER_STATUSES:
                asked = schedule.retry_after(answer.headers.get("retry-after"), now)
                # The receiver may put the next attempt off, never bring it forward: a
                # "Retry-After: 1" under load must not spend the three days' schedule
                # in seconds.
                delay = max(delay, asked) if asked is not None else delay
            if delay is None:
                current.status, current.next_attempt_at = Delivery.Status.FAILED, None
                logger.warning("webhook delivery #%s: gave up after %s attempts: %s", current.pk, number, error)
            else:
                current.next_attempt_at = now + timedelta(seconds=delay)
                if delay <= settings.WEBHOOKS_COUNTDOWN_MAX:
                    current.queued_until = current.next_attempt_at + QUEUED_GRACE
                    send_in = delay
        current.save()
        if send_in is not None:
            transaction.on_commit(lambda: _send(delivery.pk, countdown=send_in))
    logger.info("webhook delivery #%s attempt %s: %s %s %s", delivery.pk, number, outcome, status_code or "", error)
    return logged


def sweep(now: datetime | None = None) -> int:
    """Send every pending delivery that is due and has no message on its way (the
    periodic task); returns how many were sent."""
    now = now or timezone.now()
    due = list(
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(queued_until__isnull=True) | Q(queued_until__lt=now))
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    sent = 0
    for delivery_id in due:
        with transaction.atomic():
            taken = (
                Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING)
                .filter(Q(queued_until__isnull=True) | Q(queued_until__lt=now))
                .update(queued_until=now + QUEUED_GRACE)
            )
        if taken:
            if not _send(delivery_id):
                break
            sent += 1
    return sent


@transaction.atomic
def resend(*, delivery: Delivery) -> Delivery:
    """Staff: attempt the delivery again now, with the same ``webhook-id`` and body, on a
    fresh schedule, whatever its status (a delivered one too: the receiver de-duplicates
    on the id)."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    now = timezone.now()
    delivery.status = Delivery.Status.PENDING
    delivery.next_attempt_at = now
    delivery.schedule_offset = delivery.attempts
    delivery.queued_until = now + QUEUED_GRACE
    delivery.save()
    delivery_id = delivery.pk
    transaction.on_commit(lambda: _send(delivery_id))
    return delivery
