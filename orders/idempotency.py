"""Idempotency-Key handling for state-changing requests.

``claim`` runs inside the transaction that does the work: the key and the answer are
stored with the order, so either both exist or neither does. A request that fails
(4xx) stores nothing, and the key can be used again.
"""

import hashlib
import json
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from .models import IdempotencyKey


class KeyReused(Exception):
    """The key was first used with a different request (422)."""


class KeyInFlight(Exception):
    """A request with this key is being processed right now (409)."""


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict


def fingerprint(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def claim(*, scope: str, key: str, request_fingerprint: str) -> Replay | None:
    """Take the key for this request, or return the stored answer to replay.

    Must run inside the caller's transaction. On PostgreSQL a transaction-scoped
    advisory lock tells a concurrent duplicate apart (``KeyInFlight``) instead of
    letting it wait; SQLite serialises writers, so there the duplicate waits and
    replays.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [f"{scope}|{key}"])
            if not cursor.fetchone()[0]:
                raise KeyInFlight(key)
    stored = IdempotencyKey.objects.filter(scope=scope, key=key).first()
    if stored is None:
        return None
    if stored.fingerprint != request_fingerprint:
        raise KeyReused(key)
    return Replay(status=stored.response_status, body=json.loads(stored.response_body))


def remember(*, scope: str, key: str, request_fingerprint: str, status: int, body: dict) -> None:
    IdempotencyKey.objects.create(
        scope=scope,
        key=key,
        fingerprint=request_fingerprint,
        response_status=status,
        response_body=json.dumps(body, cls=DjangoJSONEncoder),
    )
