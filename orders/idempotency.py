"""Idempotency-Key handling for the API's state-changing requests.

The policy (also in the OpenAPI document):

- A key belongs to the caller: two customers' keys never meet.
- The first answer to a key (status and body bytes) is stored in the same transaction
  as the work it answers, so the key exists exactly when the order (or cancellation)
  does. The same key with the same request (method, path and body) gets those bytes
  again; with any other request it is ``KeyReused`` (422).
- A second request while the first still runs is ``KeyInFlight`` (409) on PostgreSQL;
  SQLite serialises writers, so there it waits and then replays.
- A request that is refused (4xx) or fails stores nothing: the key can be used again.
- Keys expire after ``IDEMPOTENCY_KEY_TTL`` (24 h by default). An expired key counts
  as unused even before ``prune_expired`` (a periodic task) deletes it.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import IdempotencyKey


class KeyReused(Exception):
    """The key was first used with a different request (422)."""


class KeyInFlight(Exception):
    """A request with this key is being processed right now (409)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    replayed: bool


def scope_of(customer) -> str:
    return f"customer:{customer.pk}"


def fingerprint(method: str, path: str, data) -> str:
    """The request a key stands for: the same JSON in any key order is the same request."""
    canonical = json.dumps([method.upper(), path, data], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def expiry_cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)


@transaction.atomic
def answer_once(*, scope: str, key: str, request_fingerprint: str, respond: Callable[[], tuple[int, bytes]]) -> Answer:
    """Answer a keyed request once; later requests with the key get the same bytes.

    ``respond`` does the work and renders the answer; it runs in this transaction, so
    its writes, its on-commit hooks (event dispatch) and the stored key commit
    together or not at all. Raises ``KeyReused`` or ``KeyInFlight``; whatever
    ``respond`` raises rolls everything back and stores nothing.
    """
    _lock(scope, key)
    stored = IdempotencyKey.objects.select_for_update().filter(scope=scope, key=key).first()
    if stored is not None and stored.created_at < expiry_cutoff():
        stored.delete()
        stored = None
    if stored is not None:
        if stored.fingerprint != request_fingerprint:
            raise KeyReused(key)
        return Answer(status=stored.response_status, body=stored.response_body.encode(), replayed=True)
    status, body = respond()
    IdempotencyKey.objects.create(
        scope=scope,
        key=key,
        fingerprint=request_fingerprint,
        response_status=status,
        response_body=body.decode(),
    )
    return Answer(status=status, body=body, replayed=False)


def _lock(scope: str, key: str) -> None:
    """On PostgreSQL, tell a concurrent duplicate apart instead of letting it wait: a
    transaction-scoped advisory lock on the key, taken without blocking."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [f"{scope}|{key}"])
        if not cursor.fetchone()[0]:
            raise KeyInFlight(key)


def prune_expired(*, batch_size: int = 1000) -> int:
    """Delete expired keys, ``batch_size`` rows per statement so no lock is held long.

    Safe to run at any time and concurrently: an expired key already counts as unused.
    Returns how many were deleted.
    """
    cutoff = expiry_cutoff()
    deleted = 0
    while True:
        ids = list(IdempotencyKey.objects.filter(created_at__lt=cutoff).values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += IdempotencyKey.objects.filter(pk__in=ids, created_at__lt=cutoff).delete()[0]
