import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from rest_framework.test import APIClient

from customers.models import Customer
from tests.factories import PASSWORD, PointsEntryFactory, UserFactory, place_order
from tests.testkit.clients import client_for
from users.models import ApiToken, User

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
ME = "/api/v1/me"
MY_POINTS = "/api/v1/me/points"

ALICE = {"username": "alice", "email": "alice@example.com", "password": PASSWORD}


def test_registering_answers_201_with_the_account_and_creates_a_customer_profile(api_client):
    response = api_client.post(REGISTER, ALICE, format="json")

    assert response.status_code == 201
    user = User.objects.get()
    assert response.json() == {"id": user.pk, "username": "alice", "email": "alice@example.com"}
    assert Customer.objects.get().user == user
    assert user.check_password(PASSWORD)
    assert not user.is_staff


@pytest.mark.parametrize(
    ("change", "field"),
    [({"username": "ALICE"}, "username"), ({"email": "Alice@Example.com"}, "email")],
)
def test_a_taken_username_or_email_is_400_whatever_the_case(api_client, change, field):
    UserFactory(username="alice", email="alice@example.com")

    response = api_client.post(REGISTER, {**ALICE, "username": "bob", "email": "bob@example.com", **change}, "json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert User.objects.count() == 1


@pytest.mark.parametrize("password", ["short1", "password123", "12345678901", "alice-example"])
def test_a_weak_password_is_400_naming_password_and_creates_nothing(api_client, password):
    response = api_client.post(REGISTER, {**ALICE, "password": password}, format="json")

    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["password"]
    assert fields["password"][0]
    assert not User.objects.exists()
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"username": "has space"}, "username"),
        ({"username": ""}, "username"),
        ({"username": "u" * 151}, "username"),
        ({"password": ""}, "password"),
        ({"email": None}, "email"),
    ],
)
def test_bad_registration_input_is_400_naming_the_field(api_client, change, field):
    response = api_client.post(REGISTER, {**ALICE, **change}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert not User.objects.exists()


def test_registering_with_nothing_names_every_missing_field(api_client):
    response = api_client.post(REGISTER, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"username", "email", "password"}


def test_the_right_credentials_get_a_token_that_authenticates(api_client):
    user = UserFactory(username="alice")

    response = api_client.post(TOKEN, {"username": "alice", "password": user.raw_password}, format="json")

    assert response.status_code == 200
    token = response.json()["token"]
    stored = ApiToken.objects.get(user=user)
    assert response.json() == {"token": token, "id": stored.pk, "expires_at": response.json()["expires_at"]}
    assert token.startswith("ofk_")
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get(ME).json()["username"] == "alice"
    # Another sign-in is another device: a token of its own, the first one still valid.
    again = APIClient().post(TOKEN, {"username": "alice", "password": user.raw_password}, format="json")
    assert again.json()["token"] != token
    assert ApiToken.objects.filter(user=user).count() == 2
    assert api_client.get(ME).status_code == 200


@pytest.mark.parametrize(
    "credentials",
    [{"username": "alice", "password": "wrong-password"}, {"username": "nobody", "password": PASSWORD}],
    ids=["wrong-password", "unknown-user"],
)
def test_bad_credentials_are_401_with_a_token_challenge_and_issue_no_token(api_client, credentials):
    UserFactory(username="alice")

    response = api_client.post(TOKEN, credentials, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "authentication_failed"
    assert not ApiToken.objects.exists()


def test_an_inactive_account_gets_no_token(api_client):
    UserFactory(username="alice", is_active=False)

    response = api_client.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 401
    assert not ApiToken.objects.exists()


def test_a_token_request_without_password_is_400_naming_it(api_client):
    response = api_client.post(TOKEN, {"username": "alice"}, format="json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["password"]


def test_me_shows_the_account_and_its_points_balance(shopper, shopper_client):
    PointsEntryFactory(customer=shopper.customer, amount=10)
    PointsEntryFactory(customer=shopper.customer, amount=5)
    PointsEntryFactory(customer=shopper.customer, amount=-3)
    PointsEntryFactory(amount=100)  # someone else's

    response = shopper_client.get(ME)

    assert response.status_code == 200
    assert response.json() == {"username": shopper.username, "email": shopper.email, "points_balance": 12}


def test_me_for_a_staff_account_without_a_profile_has_no_points(staff_client):
    response = staff_client.get(ME)

    assert response.status_code == 200
    assert response.json()["points_balance"] == 0


@pytest.mark.parametrize("url", [ME, MY_POINTS])
def test_me_needs_valid_credentials(api_client, url):
    assert api_client.get(url).status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.get(url)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_my_points_lists_only_my_entries_newest_first(shopper, shopper_client, mug):
    order = place_order(shopper.customer, {mug: 1})
    first = PointsEntryFactory(customer=shopper.customer, amount=12, reason="order_paid", order=order)
    second = PointsEntryFactory(customer=shopper.customer, amount=-2, reason="adjustment")
    PointsEntryFactory(amount=100)  # someone else's

    response = shopper_client.get(MY_POINTS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [e["amount"] for e in body["results"]] == [second.amount, first.amount]
    assert body["results"][1] == {
        "amount": 12,
        "reason": "order_paid",
        "order": order.pk,
        "created_at": body["results"][1]["created_at"],
    }
    assert body["results"][0]["order"] is None


def test_a_weak_password_is_refused_with_every_validators_message(api_client):
    response = api_client.post(REGISTER, {**ALICE, "password": "12345678"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "password": ["This password is too common.", "This password is entirely numeric."]
    }


def test_a_password_like_the_username_is_refused_saying_so(api_client):
    response = api_client.post(REGISTER, {**ALICE, "password": "alice-example.com"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"password": ["The password is too similar to the email address."]}


def test_the_make_run_staff_password_passes_the_validators():
    """``createsuperuser --noinput`` does not check it, so this does."""
    script = (Path(settings.BASE_DIR) / "scripts" / "run").read_text()
    password = re.search(r'DJANGO_SUPERUSER_PASSWORD:-([^}"]+)\}', script).group(1)
    username = re.search(r'DJANGO_SUPERUSER_USERNAME:-([^}"]+)\}', script).group(1)
    email = re.search(r'DJANGO_SUPERUSER_EMAIL:-([^}"]+)\}', script).group(1)

    validate_password(password, user=User(username=username, email=email))


# --- Logging out -----------------------------------------------------------------------------
LOGOUT = "/api/v1/auth/logout"


def test_logging_out_revokes_the_token_it_is_called_with_only(api_client):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    alice_client, alice_phone, bob_client = client_for(alice), client_for(alice), client_for(bob)

    response = alice_client.post(LOGOUT)

    assert response.status_code == 204
    assert response.content == b""
    assert ApiToken.objects.filter(user=alice).count() == 1  # the phone's
    again = alice_client.get(ME)
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "authentication_failed"
    assert alice_phone.get(ME).json()["username"] == "alice"
    assert bob_client.get(ME).json()["username"] == "bob"


def test_after_logging_out_a_new_login_gets_a_new_token(api_client):
    alice = UserFactory(username="alice")
    old = client_for(alice)
    old_key = old._credentials["HTTP_AUTHORIZATION"].removeprefix("Token ")
    assert old.post(LOGOUT).status_code == 204

    response = api_client.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert response.json()["token"] != old_key
    assert old.post(LOGOUT).status_code == 401
