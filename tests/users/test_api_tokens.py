"""API tokens are like passwords at rest: stored only as a digest, shown once, expiring
(sliding with use), several per user, listed and revoked by their owner."""

import importlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory
from tests.testkit.clients import client_for
from users import services, tokens
from users.models import ApiToken

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"
TOKENS = "/api/v1/auth/tokens"
ME = "/api/v1/me"


def sign_in(username: str, name: str = "") -> dict:
    response = APIClient().post(TOKEN, {"username": username, "password": PASSWORD, "name": name}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def with_key(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_key_is_stored_only_as_its_digest_and_the_stored_value_does_not_authenticate():
    UserFactory(username="alice")
    key = sign_in("alice")["token"]

    row = ApiToken.objects.values().get()
    assert key not in {str(value) for value in row.values()}
    assert row["digest"] == tokens.digest(key)
    response = with_key(row["digest"]).get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid token."
    assert with_key(key).get(ME).status_code == 200


def test_a_key_carries_a_prefix_secret_scanners_recognise():
    UserFactory(username="alice")

    key = sign_in("alice")["token"]

    assert key.startswith("ofk_")
    assert len(key) == len("ofk_") + 43  # 256 random bits, URL-safe base64


def test_an_expired_token_is_401_saying_it_expired(settings):
    alice = UserFactory()
    issued = services.create_token(alice)
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = with_key(issued.key).get(ME)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response.json()["error"]["message"].startswith("Token expired: sign in again")


def test_a_token_in_use_slides_its_expiry_and_notes_its_last_use_once_a_minute(settings):
    settings.TOKEN_TTL = timedelta(days=30)
    issued = services.create_token(UserFactory())
    near_the_end = timezone.now() + timedelta(hours=1)
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=near_the_end)
    client = with_key(issued.key)

    with CaptureQueriesContext(connection) as first:
        assert client.get(ME).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get(ME).status_code == 200

    token = ApiToken.objects.get(pk=issued.token.pk)
    assert token.last_used_at is not None
    assert token.expires_at - token.last_used_at == timedelta(days=30)
    assert [q["sql"] for q in first if q["sql"].startswith("UPDATE")]
    assert not [q["sql"] for q in second if q["sql"].startswith("UPDATE")]  # within the minute


def test_a_token_of_an_inactive_account_does_not_authenticate():
    alice = UserFactory()
    key = services.create_token(alice).key
    alice.is_active = False
    alice.save()

    assert with_key(key).get(ME).status_code == 401


def test_a_user_signed_in_on_two_devices_lists_both_by_name_never_a_key():
    UserFactory(username="alice")
    phone = sign_in("alice", name="Alice's phone")
    laptop = sign_in("alice", name="Alice's laptop")

    response = with_key(phone["token"]).get(TOKENS)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(row["id"], row["name"], row["current"]) for row in rows] == [
        (laptop["id"], "Alice's laptop", False),
        (phone["id"], "Alice's phone", True),
    ]
    assert set(rows[0]) == {"id", "name", "created_at", "last_used_at", "expires_at", "current"}
    assert rows[1]["last_used_at"] is not None  # the phone is making this call
    assert phone["token"] not in response.content.decode()
    assert laptop["token"] not in response.content.decode()


def test_revoking_one_devices_token_leaves_the_others_working():
    UserFactory(username="alice")
    phone, laptop = sign_in("alice", "phone"), sign_in("alice", "laptop")

    response = with_key(laptop["token"]).delete(f"{TOKENS}/{phone['id']}")

    assert response.status_code == 204
    refused = with_key(phone["token"]).get(ME)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "Invalid token."
    assert with_key(laptop["token"]).get(ME).status_code == 200


def test_a_customer_can_neither_list_nor_revoke_anothers_tokens():
    alice, bob = UserFactory(), UserFactory()
    alices = services.create_token(alice, name="Alice's phone")
    bob_client = client_for(bob)

    listed = bob_client.get(TOKENS).json()["results"]
    revoked = bob_client.delete(f"{TOKENS}/{alices.token.pk}")

    assert alices.token.pk not in [row["id"] for row in listed]
    assert revoked.status_code == 404
    assert revoked.json()["error"]["code"] == "not_found"
    assert with_key(alices.key).get(ME).status_code == 200


def test_a_key_issued_before_the_secret_key_was_rotated_still_authenticates(settings):
    old_secret = settings.SECRET_KEY
    key = services.create_token(UserFactory()).key
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40

    assert with_key(key).get(ME).status_code == 401  # the old secret forgotten
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    assert with_key(key).get(ME).status_code == 200


def test_long_expired_tokens_are_purged_and_recently_expired_ones_kept(settings):
    settings.TOKEN_EXPIRED_KEPT = timedelta(days=30)
    now = timezone.now()
    user = UserFactory()
    long_gone, recent, valid = (services.create_token(user).token for _ in range(3))
    ApiToken.objects.filter(pk=long_gone.pk).update(expires_at=now - timedelta(days=31))
    ApiToken.objects.filter(pk=recent.pk).update(expires_at=now - timedelta(days=1))

    assert services.purge_expired_tokens(now=now) == 1

    assert set(ApiToken.objects.values_list("pk", flat=True)) == {recent.pk, valid.pk}


# --- The upgrade from DRF's authtoken ----------------------------------------------------
MOVE = importlib.import_module("users.migrations.0004_move_drf_tokens")


@pytest.fixture
def migration_db(transactional_db):
    """A database outside a test transaction (SQLite's schema editor needs it); DRF's
    old table is dropped afterwards whatever happened."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS authtoken_token")


@pytest.mark.usefixtures("migration_db")
def test_the_upgrade_moves_plain_text_keys_to_digests_and_their_owners_stay_signed_in():
    """DRF's authtoken table as it was (one plain-text key a user), moved by the data
    migration: the key the client holds still works, and no plain text is left."""
    from django.apps import apps

    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    old_keys = {alice: "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", bob: "b1b2b3b4b5b6b7b8b9b0c1c2c3c4c5c6c7c8c9c0"}
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp with time zone NOT NULL, "
            "user_id integer NOT NULL)"
        )
        for user, key in old_keys.items():
            cursor.execute(
                "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
                [key, timezone.now() - timedelta(days=400), user.pk],
            )

    with connection.schema_editor() as editor:
        MOVE.move_drf_tokens(apps, editor)

    assert "authtoken_token" not in connection.introspection.table_names()
    for user, key in old_keys.items():
        token = ApiToken.objects.get(user=user)
        assert token.name == MOVE.NAME
        assert token.digest == tokens.digest(key)
        assert token.expires_at > timezone.now() + timedelta(days=29)  # TOKEN_TTL from the upgrade
        assert with_key(key).get(ME).json()["username"] == user.username


@pytest.mark.usefixtures("migration_db")
def test_the_upgrade_of_a_database_that_never_had_drf_tokens_changes_nothing():
    from django.apps import apps

    with connection.schema_editor() as editor:
        MOVE.move_drf_tokens(apps, editor)

    assert not ApiToken.objects.exists()
