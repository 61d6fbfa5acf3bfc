"""Where webhooks may not go: refused when registered (a 400 that says why) and again
at send time (a failed attempt in the log, not a crash); redirects never followed."""

import ipaddress

import pytest
from django.urls import reverse

from tests.factories import ProductFactory, UserFactory, place_order
from webhooks import targets
from webhooks.models import Attempt, Delivery, Endpoint

from .receiver import Answer

UNSAFE = {
    "loopback": "https://127.0.0.1/hooks",
    "cloud metadata (link-local)": "https://169.254.169.254/latest/meta-data/",
    "IPv4-mapped private": "https://[::ffff:10.0.0.1]/hooks",
    "private": "https://10.1.2.3/hooks",
    "IPv6 loopback": "https://[::1]/hooks",
    "6to4 embedding a private address": "https://[2002:a00:1::1]/hooks",
    "unspecified": "https://0.0.0.0/hooks",
    "a name resolving to loopback": "https://localhost/hooks",
    "plain http": "http://93.184.215.14/hooks",
}


@pytest.fixture
def strict(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    return settings


@pytest.mark.parametrize("url", UNSAFE.values(), ids=UNSAFE.keys())
def test_an_unsafe_target_is_refused(strict, url):
    with pytest.raises(targets.UnsafeTarget):
        targets.resolve(url)


def test_a_public_https_address_is_allowed_and_pinned(strict):
    target = targets.resolve("https://93.184.215.14:8443/hooks?x=1")
    assert (target.scheme, target.address, target.port, target.path) == ("https", "93.184.215.14", 8443, "/hooks?x=1")
    assert target.host_header == "93.184.215.14:8443"


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("::ffff:10.0.0.1", "embeds the IPv4 address 10.0.0.1"),
        ("::ffff:127.0.0.1", "embeds the IPv4 address 127.0.0.1"),
        ("64:ff9b::a9fe:a9fe", "embeds the IPv4 address 169.254.169.254"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.1", "multicast"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("100.64.0.1", "not a public address"),
        ("fec0::1", "site-local"),
        ("192.0.0.8", "not a public address"),
    ],
)
def test_each_kind_of_non_public_address_is_named(address, why):
    assert why in targets.forbidden_reason(ipaddress.ip_address(address))


def test_private_targets_and_plain_http_are_allowed_when_the_setting_says_so(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    assert targets.resolve("http://127.0.0.1:8080/hooks").address == "127.0.0.1"
    with pytest.raises(targets.UnsafeTarget, match="Only http and https"):
        targets.resolve("ftp://127.0.0.1/hooks")


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://[::ffff:169.254.169.254]/"]
)
def test_link_local_stays_refused_when_private_targets_are_allowed(settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    with pytest.raises(targets.UnsafeTarget, match="link-local"):
        targets.resolve(url)


@pytest.mark.django_db
@pytest.mark.parametrize("url", UNSAFE.values(), ids=UNSAFE.keys())
def test_registering_an_unsafe_target_is_a_400_that_says_why(strict, staff_client, url):
    response = staff_client.post(reverse("v1:webhook-list"), {"url": url, "event_types": ["order.paid"]}, format="json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    [message] = error["fields"]["url"]
    assert "not allowed" in message or "Only https" in message
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_changing_the_url_to_an_unsafe_target_is_a_400_too(strict, staff_client):
    response = staff_client.post(
        reverse("v1:webhook-list"), {"url": "https://93.184.215.14/h", "event_types": ["order.paid"]}, format="json"
    )
    assert response.status_code == 201
    detail = reverse("v1:webhook-detail", kwargs={"webhook_id": response.json()["id"]})

    answer = staff_client.patch(detail, {"url": "https://169.254.169.254/"}, format="json")

    assert answer.status_code == 400
    assert "link-local" in answer.json()["error"]["fields"]["url"][0]
    assert Endpoint.objects.get().url == "https://93.184.215.14/h"


@pytest.mark.django_db(transaction=True)
def test_a_target_that_became_unsafe_is_a_failed_attempt_at_send_time_not_a_crash(
    settings, staff_client, receivers, run_handlers
):
    receiver = receivers()
    response = staff_client.post(
        reverse("v1:webhook-list"), {"url": receiver.url, "event_types": ["order.placed"]}, format="json"
    )
    assert response.status_code == 201
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False  # as if its DNS now pointed at a private address

    place_order(UserFactory().customer, {ProductFactory(): 1})
    run_handlers()

    assert receiver.all() == []
    attempt = Attempt.objects.get()
    assert attempt.outcome == "refused"
    assert "Only https" in attempt.error
    delivery = Delivery.objects.get()
    assert delivery.status == "pending", "retried on the schedule: DNS may change back"
    assert delivery.lease_until is None


@pytest.mark.django_db(transaction=True)
def test_a_redirect_is_not_followed(staff_client, receivers, run_handlers):
    elsewhere = receivers()
    to_private = receivers(answers=[Answer(302, headers={"Location": "http://10.0.0.1/"})])
    to_loopback = receivers(answers=[Answer(307, headers={"Location": elsewhere.url})])
    for receiver in (to_private, to_loopback):
        response = staff_client.post(
            reverse("v1:webhook-list"), {"url": receiver.url, "event_types": ["order.placed"]}, format="json"
        )
        assert response.status_code == 201

    place_order(UserFactory().customer, {ProductFactory(): 1})
    run_handlers()

    assert len(to_private.all()) == 1
    assert len(to_loopback.all()) == 1
    assert elsewhere.all() == [], "the redirect's target was never called"
    attempts = {a.status_code: a for a in Attempt.objects.all()}
    assert set(attempts) == {302, 307}
    assert "http://10.0.0.1/" in attempts[302].error
    assert "not followed" in attempts[302].error
    assert attempts[302].outcome == "rejected"
    assert set(Delivery.objects.values_list("status", flat=True)) == {"pending"}


@pytest.mark.django_db(transaction=True)
def test_a_host_whose_dns_turns_private_after_registration_is_refused_at_send_time(
    settings, staff_client, run_handlers, monkeypatch
):
    """DNS rebinding: the host resolved to a public address when registered and to a
    private one when the delivery is attempted. The attempt looks again, refuses, and
    nothing connects."""
    import socket

    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    real_getaddrinfo = socket.getaddrinfo
    answers = {"rebind.example": "93.184.215.14"}
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real_getaddrinfo(host, port, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    registered = staff_client.post(
        reverse("v1:webhook-list"), {"url": "https://rebind.example/h", "event_types": ["order.placed"]}, format="json"
    )
    assert registered.status_code == 201
    answers["rebind.example"] = "10.0.0.1"
    lookups.clear()

    place_order(UserFactory().customer, {ProductFactory(): 1})
    run_handlers()

    attempt = Attempt.objects.get()
    assert attempt.outcome == "refused"
    assert "10.0.0.1" in attempt.error
    assert "private" in attempt.error
    assert lookups == ["rebind.example"], "looked up once, at the attempt"
