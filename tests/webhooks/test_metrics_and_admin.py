"""Webhooks as staff see them: /metrics counts attempts by outcome; the admin lists
deliveries with their attempts and re-sends one with the same webhook-id."""

from datetime import timedelta
from email.utils import format_datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import ProductFactory, UserFactory, place_order
from webhooks import schedule, services
from webhooks.models import Delivery, Endpoint

from .receiver import Answer


def test_retry_after_is_read_as_seconds_or_an_http_date_and_bounded(settings):
    settings.WEBHOOKS_RETRY_AFTER_MAX = 3600.0
    now = timezone.now().replace(microsecond=0)  # an HTTP date has whole seconds
    assert schedule.retry_after("120") == 120
    assert schedule.retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90
    assert schedule.retry_after(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0
    assert schedule.retry_after("999999") == 3600.0
    assert schedule.retry_after("soon") is None
    assert schedule.retry_after(None) is None


def test_the_schedule_is_standard_webhooks_with_jitter_then_nothing():
    expected = [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    for attempt, seconds in enumerate(expected, start=1):
        delay = schedule.delay_before(attempt)
        assert seconds * 0.9 <= delay <= seconds * 1.1
    assert schedule.delay_before(len(expected) + 1) is None


@pytest.mark.django_db(transaction=True)
def test_metrics_count_attempts_by_outcome(client, staff_client, receivers, run_handlers, fast_retries):
    receiver = receivers(answers=[Answer(500), Answer(200)])
    services.register_endpoint(url=receiver.url, event_types=["order.placed"])
    place_order(UserFactory().customer, {ProductFactory(): 1})
    run_handlers()

    text = client.get("/metrics").content.decode()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("orderflow_webhook_attempts_total", frozenset({("outcome", "delivered")}))] == 1
    assert samples[("orderflow_webhook_attempts_total", frozenset({("outcome", "rejected")}))] == 1
    assert samples[("orderflow_webhook_deliveries", frozenset({("status", "delivered")}))] == 1


@pytest.mark.django_db(transaction=True)
def test_staff_watch_attempts_in_the_admin_and_resend_a_delivery_with_the_same_webhook_id(
    admin_client, receivers, run_handlers, fast_retries
):
    receiver = receivers(answers=[Answer(500, body=b"upstream sneezed"), Answer(200)])
    services.register_endpoint(url=receiver.url, event_types=["order.placed"])
    place_order(UserFactory().customer, {ProductFactory(): 1})
    run_handlers()
    delivery = Delivery.objects.get()

    page = admin_client.get(reverse("admin:webhooks_delivery_change", args=[delivery.pk])).content.decode()
    assert "upstream sneezed" in page
    assert str(delivery.event.key) in page

    response = admin_client.post(
        reverse("admin:webhooks_delivery_changelist"),
        {"action": "resend_now", "_selected_action": [delivery.pk]},
    )
    assert response.status_code == 302
    run_handlers()

    assert len(receiver.all()) == 3
    assert len(set(receiver.ids())) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)


@pytest.mark.django_db
def test_staff_register_disable_and_rotate_in_the_admin(admin_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    add = reverse("admin:webhooks_endpoint_add")
    refused = admin_client.post(add, {"url": "https://169.254.169.254/", "event_types": ["order.paid"]})
    assert refused.status_code == 200
    assert "link-local" in refused.content.decode()
    assert not Endpoint.objects.exists()

    added = admin_client.post(add, {"url": "https://93.184.215.14/h", "event_types": ["order.paid"], "enabled": "on"})
    assert added.status_code == 302, added.content.decode()[:2000]
    endpoint = Endpoint.objects.get()
    assert endpoint.secret.startswith("whsec_")

    changelist = reverse("admin:webhooks_endpoint_changelist")
    admin_client.post(changelist, {"action": "rotate_secret", "_selected_action": [endpoint.pk]})
    admin_client.post(changelist, {"action": "disable", "_selected_action": [endpoint.pk]})
    rotated = Endpoint.objects.get()
    assert rotated.previous_secret == endpoint.secret
    assert rotated.secret != endpoint.secret
    assert rotated.enabled is False


def test_the_secret_is_shown_to_staff_who_may_change_endpoints_only(admin_client, client, settings):
    from django.contrib.auth.models import Permission

    from tests.factories import StaffUserFactory

    endpoint = services.register_endpoint(url="https://93.184.215.14/h", event_types=["order.paid"])
    page = reverse("admin:webhooks_endpoint_change", args=[endpoint.pk])
    viewer = StaffUserFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_endpoint"))
    client.force_login(viewer)

    assert endpoint.secret in admin_client.get(page).content.decode()
    seen = client.get(page)
    assert seen.status_code == 200
    assert endpoint.url in seen.content.decode()
    assert endpoint.secret not in seen.content.decode()


def test_start_refuses_a_retention_shorter_than_a_deliverys_life(settings):
    from webhooks import checks

    assert checks.check_retention_outlasts_deliveries() == []
    settings.EVENTS_RETENTION_DAYS = 3

    [error] = checks.check_retention_outlasts_deliveries()
    assert error.id == "webhooks.E001"
    assert "EVENTS_RETENTION_DAYS (3)" in error.msg
