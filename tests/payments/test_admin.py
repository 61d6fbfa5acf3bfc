import pytest
from django.urls import reverse

from tests.testkit.admin import build_shop


@pytest.mark.django_db(transaction=True)
def test_payments_are_filtered_by_status_and_read_only(admin_client, run_handlers):
    shop = build_shop(run_handlers)
    url = reverse("admin:payments_payment_changelist")
    declined = shop.cancelled_order.payment

    failed = admin_client.get(url, {"status__exact": "failed"}).context["cl"].result_list
    captured = admin_client.get(url, {"status__exact": "captured"}).context["cl"].result_list

    assert [p.order_id for p in failed] == [shop.cancelled_order.pk]
    assert [p.order_id for p in captured] == [shop.paid_order.pk]
    change = admin_client.post(reverse("admin:payments_payment_change", args=[declined.pk]), {"status": "captured"})
    assert change.status_code == 403
    assert admin_client.get(reverse("admin:payments_payment_add")).status_code == 403
    declined.refresh_from_db()
    assert declined.status == "failed"
