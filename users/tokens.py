"""API keys as they are sent, and the digests they are stored as.

A key is ``ofk_`` followed by 43 URL-safe characters (256 random bits): the prefix lets
a secret scanner recognise a leaked key, the randomness makes guessing hopeless. The
database holds only a digest of it, like a password, so a backup or a read-only SQL
injection yields nothing that authenticates.

The digest is HMAC-SHA256 keyed with ``SECRET_KEY``. A slow password hash would add
nothing for a key this random and would cost every request; the key makes a stolen
table useless even for testing a guess without the server's secret. When
``SECRET_KEY`` is rotated, keys issued under one of ``SECRET_KEY_FALLBACKS`` keep
working: a key is looked up under each secret's digest, in one query.
"""

import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

PREFIX = "ofk_"
_SALT = "orderflow.users.api-token"


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(key: str, *, secret: str | None = None) -> str:
    """The stored form of ``key`` under ``secret`` (``SECRET_KEY`` by default)."""
    return salted_hmac(_SALT, key, secret=secret or settings.SECRET_KEY, algorithm="sha256").hexdigest()


def candidate_digests(key: str) -> list[str]:
    """The digests ``key`` may be stored as: under the current secret and each fallback."""
    return [digest(key, secret=s) for s in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)]
