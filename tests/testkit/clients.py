"""API clients for the in-process API tests: ``client_for(user)`` authenticates with a
real API token. Used by the ``*_client`` fixtures of tests/conftest.py and the API tests
that need a client for a user of their own."""

from rest_framework.test import APIClient

from users.services import create_token


def client_for(user) -> APIClient:
    """An API client that authenticates as ``user`` with a real API token."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {create_token(user).key}")
    return client
