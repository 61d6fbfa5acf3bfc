import pytest
from django.urls import reverse

from payments.models import Payment
from tests.admin_support import admin_page_problems, build_shop, registered_models


@pytest.mark.django_db(transaction=True)
def test_every_payments_admin_page_renders_for_staff_and_redirects_others_to_login(admin_client, client, run_handlers):
    shop = build_shop(run_handlers)
    client.force_login(shop.shopper)
    models = registered_models(["payments"])
    assert Payment in models

    assert admin_page_problems(models, staff_client=admin_client, other_client=client) == []


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
