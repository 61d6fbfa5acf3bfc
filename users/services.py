"""Accounts: registration and API tokens."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers import services as customer_services

from . import selectors, tokens
from .models import ApiToken, User


class InvalidCredentials(Exception):
    pass


class AccountExists(Exception):
    def __init__(self, field: str):
        self.field = field
        super().__init__(f"A user with that {field} already exists.")


@transaction.atomic
def register_user(*, username: str, email: str, password: str) -> User:
    """Create a shopper account and its customer profile in one transaction.

    Username and email are unique regardless of case (``AccountExists`` names the
    field; the database constraints settle a race between two registrations). The
    password must pass Django's validators (``ValidationError`` says why not).
    """
    for field, value, taken in (
        ("username", username, selectors.username_taken),
        ("email", email, selectors.email_taken),
    ):
        if taken(value):
            raise AccountExists(field)
    user = User(username=username, email=email)
    validate_password(password, user=user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise AccountExists("username" if selectors.username_taken(username) else "email") from exc
    customer_services.get_or_create_customer(user)
    return user


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its key: the only time the key is known to the server."""

    token: ApiToken
    key: str


def issue_token(*, username: str, password: str, name: str = "") -> IssuedToken:
    """Sign a user in: a new token, named for the device or integration that asked.

    Each sign-in gets a token of its own, so that one device can be signed out without
    the others. Refused (``InvalidCredentials``) for a wrong password or an inactive
    account, issuing nothing.
    """
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials("unable to log in with these credentials")
    return create_token(user, name=name)


def create_token(user: User, *, name: str = "") -> IssuedToken:
    """A new token for ``user``, valid for ``TOKEN_TTL`` from now; one insert. Only its
    digest is stored: the key in the answer is never shown again."""
    key = tokens.new_key()
    token = ApiToken.objects.create(
        user=user, name=name, digest=tokens.digest(key), expires_at=timezone.now() + settings.TOKEN_TTL
    )
    return IssuedToken(token=token, key=key)


def note_token_use(token: ApiToken, *, now: datetime) -> None:
    """Record that ``token`` authenticated a request, and extend its life to
    ``TOKEN_TTL`` from now (sliding expiry).

    Written at most once per ``TOKEN_USE_RESOLUTION``: a token in steady use costs one
    UPDATE a minute, not one a request. One statement, no transaction of its own.
    """
    if token.last_used_at is not None and now - token.last_used_at < settings.TOKEN_USE_RESOLUTION:
        return
    token.last_used_at, token.expires_at = now, now + settings.TOKEN_TTL
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=token.last_used_at, expires_at=token.expires_at)


def revoke_token(token: ApiToken) -> None:
    """Delete the token: whoever uses it gets a 401 from now on. The owner's other
    tokens are untouched."""
    ApiToken.objects.filter(pk=token.pk).delete()


def purge_expired_tokens(*, now: datetime | None = None) -> int:
    """Delete tokens expired more than ``TOKEN_EXPIRED_KEPT`` ago (until then a client
    using one is told that it expired rather than that it is unknown); returns how many.
    One DELETE; run daily by the periodic task ``users.purge_expired_tokens``."""
    cutoff = (now or timezone.now()) - settings.TOKEN_EXPIRED_KEPT
    deleted, _ = ApiToken.objects.filter(expires_at__lt=cutoff).delete()
    return deleted
