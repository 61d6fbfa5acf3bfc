"""Throttling: per client address without credentials, per account with them, and
stricter scopes for placing orders and for logging in / registering. Past its rate a
caller gets a 429 in the API's error format with a ``Retry-After`` header; the rates
are small here (the settings), the counters those of the real configured cache."""

import socket
import uuid

import pytest
from django.core.cache import cache

from project.throttles import SlidingWindowThrottle
from tests.factories import PASSWORD, ProductFactory, UserFactory
from tests.testkit.clients import client_for

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products"
ORDERS = "/api/v1/orders"
TOKEN = "/api/v1/auth/token"
REGISTER = "/api/v1/auth/register"
ME = "/api/v1/me"
ROOMY = "1000/min"


@pytest.fixture
def rates(settings):
    """Set some scopes' rates (the others stay roomy)."""

    def set_rates(**scopes):
        rates = {"anon": ROOMY, "user": ROOMY, "orders": ROOMY, "auth": ROOMY, "support": ROOMY, **scopes}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}

    return set_rates


def assert_throttled(response, *, within: int) -> None:
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert "throttled" in error["message"]
    assert 0 < int(response["Retry-After"]) <= within


def test_an_anonymous_client_past_its_rate_is_429_with_retry_after(api_client, rates):
    rates(anon="2/min")

    answers = [api_client.get(PRODUCTS).status_code for _ in range(2)]

    assert answers == [200, 200]
    assert_throttled(api_client.get(PRODUCTS), within=60)
    # Another X-Forwarded-For is no way out: clients are counted by their connection.
    assert_throttled(api_client.get(PRODUCTS, HTTP_X_FORWARDED_FOR="203.0.113.9"), within=60)


def test_an_account_past_its_rate_is_429_and_others_are_not(rates):
    rates(user="2/hour")
    alice, bob = client_for(UserFactory()), client_for(UserFactory())

    assert [alice.get(ME).status_code for _ in range(2)] == [200, 200]

    assert_throttled(alice.get(ME), within=3600)
    assert bob.get(ME).status_code == 200


def test_placing_orders_has_a_stricter_rate_that_listing_them_does_not_use(rates):
    rates(orders="1/min")
    ProductFactory(sku="MUG-01", stock=10)
    client = client_for(UserFactory())
    order = {"items": [{"sku": "MUG-01", "quantity": 1}]}

    assert client.post(ORDERS, order, format="json").status_code == 201

    assert_throttled(client.post(ORDERS, order, format="json"), within=60)
    assert client.get(ORDERS).status_code == 200
    assert client.get(ORDERS).json()["count"] == 1


def test_asking_for_tokens_and_registering_share_a_strict_rate_per_address(api_client, rates):
    rates(auth="2/min")
    user = UserFactory()

    assert api_client.post(TOKEN, {"username": user.username, "password": "wrong"}, format="json").status_code == 401
    assert api_client.post(TOKEN, {"username": user.username, "password": PASSWORD}, format="json").status_code == 200

    assert_throttled(
        api_client.post(TOKEN, {"username": user.username, "password": PASSWORD}, format="json"), within=60
    )
    body = {"username": "newcomer", "email": "new@example.com", "password": PASSWORD}
    assert_throttled(api_client.post(REGISTER, body, format="json"), within=60)


def test_a_password_guesser_with_tokens_of_its_own_is_still_counted_by_address(rates):
    rates(auth="2/min")
    victim = UserFactory()
    guess = {"username": victim.username, "password": "guess"}
    # Each guess sent with another of the attacker's own accounts' tokens.
    attackers = [client_for(UserFactory()) for _ in range(3)]

    assert [attackers[i].post(TOKEN, guess, format="json").status_code for i in range(2)] == [401, 401]

    assert_throttled(attackers[2].post(TOKEN, guess, format="json"), within=60)


def _redis_reachable(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_reachable(), reason="no Redis server on 127.0.0.1:6379")
def test_the_counters_work_in_a_redis_cache_too(api_client, rates, settings):
    """What CACHE_URL=redis://... configures, for web processes on several machines.
    Keys of this test's own prefix: the database is left to whoever else uses it."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/1",
            "KEY_PREFIX": f"orderflow-test-{uuid.uuid4().hex}",
        }
    }
    rates(anon="1/min")

    assert api_client.get(PRODUCTS).status_code == 200

    assert_throttled(api_client.get(PRODUCTS), within=60)


def test_a_callers_count_is_two_small_numbers_whatever_the_rate(rates, monkeypatch):
    """Not DRF's list of every call's time, rewritten in full at each call and as long
    as the rate allows: one counter for this window and one for the last."""
    rates(user="100000/min")
    user = UserFactory()
    client = client_for(user)
    now = 1_000_000.0  # 40 s into a minute
    monkeypatch.setattr(SlidingWindowThrottle, "timer", lambda self: now)

    for _ in range(30):
        assert client.get(ME).status_code == 200

    minute = int(now // 60)
    assert cache.get(f"throttle_user_{user.pk}:{minute}") == 30
    assert cache.get(f"throttle_user_{user.pk}") is None  # DRF's list is not kept


def test_the_last_windows_calls_weigh_in_as_much_as_it_still_overlaps(rates, monkeypatch):
    rates(user="10/min")
    client = client_for(UserFactory())
    now = [60.0 * 1000 + 50]  # 50 s into a minute
    monkeypatch.setattr(SlidingWindowThrottle, "timer", lambda self: now[0])
    assert [client.get(ME).status_code for _ in range(10)] == [200] * 10
    assert_throttled(client.get(ME), within=60)

    now[0] += 30  # 20 s into the next minute: the last one still weighs 2/3, 6.7 calls
    assert [client.get(ME).status_code for _ in range(4)] == [200] * 4  # 6.7 + 3 < 10
    response = client.get(ME)
    assert_throttled(response, within=60)
    # Under the rate again once the last minute weighs less than the room left,
    # 1 - elapsed < (10 - 4) / 10: at 24 s into the minute, 4 s on.
    assert int(response["Retry-After"]) == 4
    now[0] += 4.5
    assert client.get(ME).status_code == 200
