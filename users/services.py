"""Accounts: registration and API tokens."""

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from customers import services as customer_services

from . import selectors
from .models import User


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
    customer_services.customer_for(user)
    return user


def issue_token(*, username: str, password: str) -> str:
    """Return the user's API token, creating it on first login."""
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials("unable to log in with these credentials")
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def revoke_token(user: User) -> None:
    """Delete the user's API token: every client using it gets a 401 from now on, and
    the next login issues a new one."""
    Token.objects.filter(user=user).delete()
