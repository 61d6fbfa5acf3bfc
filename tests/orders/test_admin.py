from decimal import Decimal

import pytest
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import Product
from events.models import Event, HandlerRun
from payments.models import Payment
from tests.factories import UserFactory, place_order
from tests.testkit.admin import (
    admin_action,
    break_email,
    build_shop,
    messages_of,
    table_rows,
)


def change_url(order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


@pytest.mark.django_db(transaction=True)
def test_order_page_shows_each_event_with_its_handler_runs_and_their_status(admin_client, run_handlers, settings):
    break_email(settings)  # the confirmation email cannot go out: that handler fails
    shop = build_shop(run_handlers)
    order = shop.paid_order

    response = admin_client.get(change_url(order))

    assert response.status_code == 200
    rows = table_rows(response.content, "orderflow-timeline")
    text = [" | ".join(row) for row in rows]
    assert rows[0][:5] == ["occurred", "event", "dispatched", "handler", "status"]
    events = list(Event.objects.filter(stream=f"order:{order.pk}").order_by("id"))
    assert [e.type for e in events] == ["order.placed", "payment.captured", "order.paid"]
    for event in events:
        assert any(f"#{event.pk} {event.type}" in line for line in text), (event, text)
    runs = HandlerRun.objects.filter(event__in=events)
    assert {(r.handler, r.status) for r in runs} == {
        ("payments.charge_order", "done"),
        ("orders.mark_paid", "done"),
        ("customers.award_points", "done"),
        ("notifications.order_confirmed", "failed"),
    }
    for run in runs:
        assert any(f"{run.handler} | {run.status} | {run.attempts} | {run.enqueued}" in line for line in text), (
            run,
            text,
        )
    failed = runs.get(status="failed")
    assert "ConnectionRefusedError" in failed.last_error
    assert any("ConnectionRefusedError" in line for line in text)


@pytest.mark.django_db(transaction=True)
def test_order_page_shows_the_payment_and_links_to_it(admin_client, run_handlers):
    shop = build_shop(run_handlers)
    payment = Payment.objects.get(order=shop.paid_order)
    unpaid = place_order(shop.shopper.customer, {"MUG-01": 1})

    paid_page = admin_client.get(change_url(shop.paid_order)).content.decode()
    unpaid_page = admin_client.get(change_url(unpaid)).content.decode()

    rows = {row[0]: row[1] for row in table_rows(paid_page, None) if len(row) == 2}
    assert rows["status"] == "captured"
    assert rows["charge"] == payment.charge_id
    assert rows["amount"] == f"{payment.amount} {payment.currency}"
    assert reverse("admin:payments_payment_change", args=[payment.pk]) in paid_page
    assert "No payment yet." in unpaid_page


@pytest.mark.django_db
def test_order_page_escapes_what_was_typed_into_the_shop(admin_client):
    shopper = UserFactory(username="alice")
    catalog_services.create_product(
        sku="MUG-01", name="<script>alert(1)</script>", price=Decimal("12.90"), currency="EUR", stock=5
    )
    order = place_order(shopper.customer, {"MUG-01": 1})

    response = admin_client.get(change_url(order))

    assert response.status_code == 200
    assert b"<script>alert(1)</script>" not in response.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.content


@pytest.mark.django_db(transaction=True)
def test_cancel_action_cancels_pending_and_paid_orders_and_skips_cancelled_ones(admin_client, run_handlers, mailoutbox):
    shop = build_shop(run_handlers)
    pending = place_order(shop.shopper.customer, {"MUG-01": 3})
    stock_before = Product.objects.get(sku="MUG-01").stock
    selected = [shop.paid_order, pending, shop.cancelled_order]

    response = admin_action(admin_client, "orders.order", "cancel_orders", selected)

    assert response.status_code == 200
    assert messages_of(response) == ["Cancelled 2 order(s); skipped 1 already cancelled."]
    for order in selected:
        order.refresh_from_db()
    assert [o.status for o in selected] == ["cancelled", "cancelled", "cancelled"]
    assert [o.cancel_reason for o in selected] == ["staff", "staff", "payment_declined"]
    assert Product.objects.get(sku="MUG-01").stock == stock_before + 2 + 3
    cancelled_events = Event.objects.filter(type="order.cancelled", payload__reason="staff")
    assert sorted(e.payload["order_id"] for e in cancelled_events) == sorted([shop.paid_order.pk, pending.pk])

    # The rest follows from the events, as for any cancellation.
    run_handlers()
    shop.paid_order.payment.refresh_from_db()
    pending.payment.refresh_from_db()
    assert shop.paid_order.payment.status == "refunded"
    # Voided if the cancellation is handled before the charge, refunded if after.
    assert pending.payment.status in ("voided", "refunded")
    assert any("our staff cancelled it" in m.body for m in mailoutbox)


@pytest.mark.django_db
def test_orders_cannot_be_added_changed_or_deleted_in_the_admin(admin_client):
    shopper = UserFactory(username="alice")
    catalog_services.create_product(sku="MUG-01", name="Mug", price=Decimal("12.90"), currency="EUR", stock=5)
    order = place_order(shopper.customer, {"MUG-01": 1})

    change = admin_client.post(change_url(order), {"status": "paid", "total": "0.00"})
    add = admin_client.get(reverse("admin:orders_order_add"))
    delete = admin_client.post(reverse("admin:orders_order_delete", args=[order.pk]), {"post": "yes"})

    assert (change.status_code, add.status_code, delete.status_code) == (403, 403, 403)
    order.refresh_from_db()
    assert (order.status, str(order.total)) == ("pending", "12.90")
