"""https targets: the connection goes to the checked address, and TLS checks the
certificate against the host name in the URL (SNI and hostname check), not the address."""

import subprocess

import pytest
from django.urls import reverse

from tests.factories import ProductFactory, UserFactory, place_order
from webhooks.models import Attempt, Delivery

pytestmark = pytest.mark.django_db(transaction=True)


def self_signed(tmp_path, name: str) -> tuple[str, str]:
    cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture
def tls_receiver(tmp_path, settings):
    from .receiver import Receiver

    made = []

    def make(cert_name: str, trusted: bool = True):
        cert, key = self_signed(tmp_path, cert_name)
        if trusted:
            settings.WEBHOOKS_CA_BUNDLE = cert  # the receiver's certificate is its own CA
        receiver = Receiver(tls=(cert, key), host="localhost").start()
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.stop()


def register_and_order(staff_client, url: str) -> None:
    response = staff_client.post(
        reverse("v1:webhook-list"), {"url": url, "event_types": ["order.placed"]}, format="json"
    )
    assert response.status_code == 201, response.content
    place_order(UserFactory().customer, {ProductFactory(): 1})


def test_a_certificate_for_the_host_name_is_accepted_on_the_pinned_address(staff_client, tls_receiver, run_handlers):
    receiver = tls_receiver("localhost")
    register_and_order(staff_client, receiver.url)
    run_handlers()

    assert len(receiver.all()) == 1
    assert receiver.all()[0].headers["host"] == f"localhost:{receiver.port}"
    assert Delivery.objects.get().status == "delivered"


def test_a_certificate_for_another_name_is_refused(staff_client, tls_receiver, run_handlers):
    receiver = tls_receiver("someone-else.example")
    register_and_order(staff_client, receiver.url)
    run_handlers()

    assert receiver.all() == []
    attempt = Attempt.objects.get()
    assert attempt.outcome == "error"
    assert "doesn't match 'someone-else.example'" in attempt.error, attempt.error


def test_an_untrusted_certificate_is_refused(staff_client, tls_receiver, run_handlers):
    receiver = tls_receiver("localhost", trusted=False)
    register_and_order(staff_client, receiver.url)
    run_handlers()

    assert receiver.all() == []
    assert "certificate" in Attempt.objects.get().error.lower()
