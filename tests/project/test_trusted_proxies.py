"""What stands in front of the server decides which headers are believed
(``TRUSTED_PROXIES``, ``project.proxies``).

Exposed directly, a client's ``X-Forwarded-Proto`` does not make its request secure and
its ``X-Forwarded-For`` does not move it to another throttle bucket. Behind a declared
proxy both are honoured, and only from that proxy. The middleware reads the declaration
when the client's handler is built, so each test declares it before its first request.
"""

import pytest
from django.test import Client

from project.proxies import TrustedProxies

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/v1/products"
PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.fixture
def https_required(settings):
    settings.SECURE_SSL_REDIRECT = True  # the production default; the test run turns it off
    return settings


def declare(settings, proxies: str) -> Client:
    """A client of a server deployed with ``TRUSTED_PROXIES=proxies`` (as settings.py
    derives the rest from it)."""
    settings.TRUSTED_PROXIES = proxies
    settings.SECURE_PROXY_SSL_HEADER = None if TrustedProxies.parse(proxies).direct else PROXY_SSL_HEADER
    return Client()


def test_exposed_directly_a_forged_forwarded_proto_does_not_make_a_request_secure(https_required):
    client = declare(https_required, "none")

    response = client.get(PRODUCTS, HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 301
    assert response["Location"] == f"https://testserver{PRODUCTS}"


@pytest.mark.parametrize("proxies", ["1", "127.0.0.1", "127.0.0.0/8, 10.0.0.5"])
def test_behind_a_declared_proxy_its_forwarded_proto_is_honoured(https_required, proxies):
    client = declare(https_required, proxies)

    assert client.get(PRODUCTS, HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert client.get(PRODUCTS, HTTP_X_FORWARDED_PROTO="http").status_code == 301
    assert client.get(PRODUCTS).status_code == 301  # a proxy that says nothing: plain HTTP


def test_a_forwarded_proto_from_an_address_that_is_not_a_declared_proxy_is_ignored(https_required):
    client = declare(https_required, "10.0.0.5")  # the test client connects from 127.0.0.1

    assert client.get(PRODUCTS, HTTP_X_FORWARDED_PROTO="https").status_code == 301


def test_the_nearest_proxys_word_counts_not_what_the_client_put_before_it(https_required):
    client = declare(https_required, "1")

    # The client sent "https"; the proxy appended the scheme it really saw.
    assert client.get(PRODUCTS, HTTP_X_FORWARDED_PROTO="https, http").status_code == 301


# --- Throttles: who is the client? -------------------------------------------------------
@pytest.fixture
def three_a_minute(settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, "anon": "3/min"}}
    return settings


def statuses(client: Client, forwarded_for: list[str]) -> list[int]:
    return [client.get(PRODUCTS, HTTP_X_FORWARDED_FOR=address).status_code for address in forwarded_for]


def test_exposed_directly_a_forged_forwarded_for_does_not_change_the_throttles_address(three_a_minute):
    client = declare(three_a_minute, "none")

    # Four "different" clients, one connection address: one allowance of three.
    assert statuses(client, ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]) == [200, 200, 200, 429]


def test_behind_a_declared_proxy_each_client_it_forwards_has_its_own_allowance(three_a_minute):
    client = declare(three_a_minute, "1")

    assert statuses(client, ["203.0.113.1"] * 3 + ["203.0.113.2"]) == [200, 200, 200, 200]
    assert statuses(client, ["203.0.113.1"]) == [429]


def test_behind_a_proxy_a_client_cannot_pick_its_bucket_by_prepending_addresses(three_a_minute):
    client = declare(three_a_minute, "1")

    # The client wrote "198.51.100.N"; the proxy appended the address it saw, 203.0.113.1.
    forged = [f"198.51.100.{n}, 203.0.113.1" for n in range(4)]
    assert statuses(client, forged) == [200, 200, 200, 429]


def test_with_proxy_addresses_the_client_is_the_nearest_address_that_is_not_a_proxy(three_a_minute):
    client = declare(three_a_minute, "127.0.0.1, 10.0.0.0/8")

    # Client -> 10.1.2.3 (an inner proxy) -> 127.0.0.1 (the outer one) -> the server.
    chain = [f"198.51.100.{n}, 203.0.113.1, 10.1.2.3" for n in range(4)]
    assert statuses(client, chain) == [200, 200, 200, 429]  # all 203.0.113.1, whatever it prepended
    assert statuses(client, ["203.0.113.2, 10.1.2.3"]) == [200]


# --- The declaration ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("declared", "remote", "forwarded_for", "client"),
    [
        ("none", "192.0.2.1", "203.0.113.1", None),  # not a proxy: headers not read
        ("1", "192.0.2.1", "203.0.113.1", "203.0.113.1"),
        ("2", "192.0.2.1", "203.0.113.1, 10.0.0.7", "203.0.113.1"),
        ("2", "192.0.2.1", "10.0.0.7", "10.0.0.7"),  # fewer hops than declared: the farthest
        ("1", "192.0.2.1", "not-an-address", "192.0.2.1"),  # a broken proxy: the connection
        ("192.0.2.0/24", "192.0.2.1", "203.0.113.1, 192.0.2.9", "203.0.113.1"),
        ("192.0.2.0/24", "192.0.2.1", "192.0.2.8, 192.0.2.9", "192.0.2.8"),  # all proxies: the farthest
        ("2001:db8::/32", "2001:db8::1", "2001:db8:1::5, 203.0.113.1", "203.0.113.1"),
    ],
)
def test_the_client_address_is_read_as_declared(declared, remote, forwarded_for, client):
    proxies = TrustedProxies.parse(declared)

    if client is None:
        assert proxies.direct
        assert not proxies.is_proxy(remote)
    else:
        assert proxies.is_proxy(remote)
        assert proxies.client_address(remote, forwarded_for) == client
