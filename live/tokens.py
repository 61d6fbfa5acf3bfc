"""Stream tokens: how a browser's ``EventSource``, which cannot send an
``Authorization`` header, opens one order's live stream.

A token is signed, not stored (``django.core.signing`` with a salt of its own, so no
other signed value of the project passes for one): it names the order and the user it
was issued to, and its age is checked against ``LIVE_STREAM_TOKEN_TTL``. Nothing is
written per token and nothing has to be cleaned up, and opening a stream costs no
lookup of the token. What signing cannot do is revoke one: a token lives out its few
minutes even after its user signs out. It is worth little to a thief: it only opens
that order's stream, read-only, for a user who must still be active and still own the
order when the stream opens; it is never an API token. It travels in a URL
(``?token=``), so keep its life short and the stream's URLs out of shared logs.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone

SALT = "orderflow.live.stream-token"


class InvalidToken(Exception):
    """Not a stream token of ours, one for another order, or an expired one."""


@dataclass(frozen=True)
class StreamToken:
    token: str
    expires_at: datetime


def issue(*, order_id: int, user_id: int) -> StreamToken:
    """A token that opens the stream of ``order_id`` for ``user_id`` until it expires."""
    signer = signing.TimestampSigner(salt=SALT)
    token = signer.sign_object({"o": order_id, "u": user_id}, compress=False)
    issued = timezone.now()
    return StreamToken(token=token, expires_at=issued + timedelta(seconds=settings.LIVE_STREAM_TOKEN_TTL))


def user_id_for(token: str, *, order_id: int) -> int:
    """The id of the user the token was issued to, if it is valid for ``order_id``'s
    stream now; ``InvalidToken`` (saying why) otherwise."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        claims = signer.unsign_object(token, max_age=settings.LIVE_STREAM_TOKEN_TTL)
    except signing.SignatureExpired as exc:
        raise InvalidToken(
            f"Stream token expired: ask for a new one (POST /api/v1/orders/{order_id}/stream-token)."
        ) from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise InvalidToken("Invalid stream token.") from exc
    if not isinstance(claims, dict) or not isinstance(claims.get("u"), int):
        raise InvalidToken("Invalid stream token.")
    if claims.get("o") != order_id:
        raise InvalidToken("This stream token is for another order.")
    return claims["u"]
