import pytest
from django.urls import reverse

from tests.testkit.admin import build_shop


@pytest.mark.django_db(transaction=True)
def test_notifications_and_emails_are_listed_by_kind_and_read_only(admin_client, run_handlers):
    shop = build_shop(run_handlers)
    notifications = reverse("admin:notifications_notification_changelist")
    emails = reverse("admin:notifications_emailrecord_changelist")

    confirmed = admin_client.get(notifications, {"kind__exact": "order_confirmed"}).context["cl"].result_list
    cancelled_mail = admin_client.get(emails, {"kind__exact": "order_cancelled"}).context["cl"].result_list

    assert [(n.order_id, n.title) for n in confirmed] == [
        (shop.paid_order.pk, f"Order #{shop.paid_order.pk} confirmed")
    ]
    assert [(e.order_id, e.to) for e in cancelled_mail] == [(shop.cancelled_order.pk, "alice@example.com")]
    notification = confirmed[0]
    change = reverse("admin:notifications_notification_change", args=[notification.pk])
    assert admin_client.post(change, {"title": "changed"}).status_code == 403
    assert admin_client.get(reverse("admin:notifications_emailrecord_add")).status_code == 403
    notification.refresh_from_db()
    assert notification.title == f"Order #{shop.paid_order.pk} confirmed"
