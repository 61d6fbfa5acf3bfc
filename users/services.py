"""Accounts: registration and API tokens."""

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from rest_framework.authtoken.models import Token

from customers import services as customer_services

from .models import User


class InvalidCredentials(Exception):
    pass


@transaction.atomic
def register_user(*, username: str, email: str, password: str) -> User:
    """Create a shopper account and its customer profile in one transaction.

    The password must pass Django's validators (raises ``ValidationError`` naming
    the problem); uniqueness of username and email is checked by the caller and
    enforced by the database.
    """
    user = User(username=username, email=email)
    validate_password(password, user=user)
    user.set_password(password)
    user.save()
    customer_services.create_customer(user=user)
    return user


def issue_token(*, username: str, password: str) -> str:
    """Return the user's API token, creating it on first login."""
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials("unable to log in with these credentials")
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def revoke_token(*, user: User) -> None:
    Token.objects.filter(user=user).delete()
