import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from notifications import services
from notifications.models import EmailRecord, Notification
from orders import services as order_services
from orders.signals import CancelReason
from tests.factories import NotificationFactory, UserFactory, place_order

pytestmark = pytest.mark.django_db

NOTIFICATIONS = "/api/v1/notifications"


def read_url(notification_id: int) -> str:
    return f"{NOTIFICATIONS}/{notification_id}/read"


# --- API --------------------------------------------------------------------------------


def test_the_list_shows_only_my_notifications_newest_first(shopper, shopper_client):
    older = NotificationFactory(customer=shopper.customer, title="older")
    newer = NotificationFactory(customer=shopper.customer, title="newer", kind="order_cancelled")
    NotificationFactory(title="someone else's")

    response = shopper_client.get(NOTIFICATIONS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [n["id"] for n in body["results"]] == [newer.pk, older.pk]
    assert body["results"][0] == {
        "id": newer.pk,
        "kind": "order_cancelled",
        "title": "newer",
        "body": newer.body,
        "order": None,
        "created_at": body["results"][0]["created_at"],
        "read_at": None,
    }


def test_marking_a_notification_read_is_idempotent(shopper, shopper_client):
    notification = NotificationFactory(customer=shopper.customer)

    first = shopper_client.post(read_url(notification.pk))
    notification.refresh_from_db()
    read_at = notification.read_at
    second = shopper_client.post(read_url(notification.pk))

    assert first.status_code == second.status_code == 200
    assert read_at is not None
    assert first.json()["read_at"] is not None
    assert second.json()["read_at"] == first.json()["read_at"]
    notification.refresh_from_db()
    assert notification.read_at == read_at


def test_marking_a_notification_read_keeps_the_first_read_time():
    notification = NotificationFactory(read_at=timezone.now() - timedelta(days=1))
    first_read = notification.read_at

    services.mark_read(notification=notification)

    notification.refresh_from_db()
    assert notification.read_at == first_read


def test_another_customers_notification_is_404_and_stays_unread(shopper_client):
    theirs = NotificationFactory()

    response = shopper_client.post(read_url(theirs.pk))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_a_staff_account_without_a_profile_has_no_notifications(staff_client):
    theirs = NotificationFactory()

    assert staff_client.get(NOTIFICATIONS).json()["count"] == 0
    assert staff_client.post(read_url(theirs.pk)).status_code == 404


def test_notifications_need_credentials(api_client):
    notification = NotificationFactory()

    assert api_client.get(NOTIFICATIONS).status_code == 401
    assert api_client.post(read_url(notification.pk)).status_code == 401


# --- services: one message per event ----------------------------------------------------


@pytest.fixture
def order(mug):
    return place_order(UserFactory(username="alice", first_name="Alice").customer, {mug: 2})


def test_a_confirmation_is_stored_and_mailed_once_per_event(order):
    order_services.mark_paid(order_id=order.pk)
    key = uuid.uuid4()

    first = services.notify_order_confirmed(order_id=order.pk, customer_id=order.customer_id, event_key=key)
    again = services.notify_order_confirmed(order_id=order.pk, customer_id=order.customer_id, event_key=key)

    assert again == first
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["alice@example.com"]
    assert email.extra_headers["Message-ID"] == f"<order_confirmed.{key}@orderflow>"
    assert "Hello Alice," in email.body
    assert "2 × Mug (MUG-01)  25.80 EUR" in email.body  # noqa: RUF001 (the template's own sign)
    assert EmailRecord.objects.get().message_id == f"<order_confirmed.{key}@orderflow>"


def test_no_confirmation_goes_out_for_an_order_cancelled_before_it_was_handled(order):
    order_services.mark_paid(order_id=order.pk)
    order_services.cancel_order(order_id=order.pk, reason=CancelReason.CUSTOMER)

    sent = services.notify_order_confirmed(order_id=order.pk, customer_id=order.customer_id, event_key=uuid.uuid4())

    assert sent is None
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_a_cancellation_mail_says_why_and_whether_money_comes_back(order):
    services.notify_order_cancelled(
        order_id=order.pk,
        customer_id=order.customer_id,
        reason=CancelReason.CUSTOMER,
        was_paid=True,
        event_key=uuid.uuid4(),
    )
    services.notify_order_cancelled(
        order_id=order.pk,
        customer_id=order.customer_id,
        reason=CancelReason.PAYMENT_DECLINED,
        was_paid=False,
        event_key=uuid.uuid4(),
    )

    refunded, declined = mail.outbox
    assert "you cancelled it" in refunded.body
    assert "refunded in full" in refunded.body
    assert "the payment was declined" in declined.body
    assert "refunded" not in declined.body
    assert Notification.objects.filter(kind="order_cancelled").count() == 2


def test_a_customer_without_an_email_address_gets_the_in_app_notification_only(order):
    user = order.customer.user
    user.email = ""
    user.save(update_fields=["email"])
    order_services.mark_paid(order_id=order.pk)

    services.notify_order_confirmed(order_id=order.pk, customer_id=order.customer_id, event_key=uuid.uuid4())

    assert Notification.objects.count() == 1
    assert mail.outbox == []
    assert not EmailRecord.objects.exists()


def test_every_cancel_reason_has_wording_for_the_customer():
    assert set(services.CANCEL_REASONS) == set(CancelReason)
