import pytest
from django.urls import reverse

from tests.factories import UserFactory
from tests.testkit.admin import build_shop, rows_of, table_rows


@pytest.mark.django_db(transaction=True)
def test_customer_list_shows_each_customers_points_balance_from_the_ledger(admin_client, run_handlers):
    build_shop(run_handlers)  # alice paid one order of 2 x 12.90: 25 points
    UserFactory(username="bob")  # no orders, no points
    url = reverse("admin:customers_customer_changelist")

    response = admin_client.get(url)

    assert response.status_code == 200
    balances = {row["username"]: (row["email"], row["points balance"]) for row in rows_of(response)}
    assert balances == {"alice": ("alice@example.com", "25"), "bob": ("bob@example.com", "0")}
    by_points = admin_client.get(url, {"o": "-2"})  # column 2, points balance, highest first
    assert [row["username"] for row in rows_of(by_points)] == ["alice", "bob"]
    by_points_asc = admin_client.get(url, {"o": "2"})
    assert [row["username"] for row in rows_of(by_points_asc)] == ["bob", "alice"]


@pytest.mark.django_db(transaction=True)
def test_customer_page_shows_the_points_ledger_read_only(admin_client, run_handlers):
    shop = build_shop(run_handlers)

    response = admin_client.get(reverse("admin:customers_customer_change", args=[shop.shopper.customer.pk]))

    assert response.status_code == 200
    inline = response.content.decode().split('id="points-group"', 1)[1]
    header, *entries = table_rows(inline, None)
    assert header[1:5] == ["Created at", "Amount", "Reason", "Order"]
    assert [row[2:5] for row in entries] == [["25", "order paid", str(shop.paid_order)]]
    assert b'name="points-0-amount"' not in response.content  # shown, not editable
    assert b'name="_save"' not in response.content


@pytest.mark.django_db(transaction=True)
def test_points_entries_are_filtered_by_reason(admin_client, run_handlers):
    shop = build_shop(run_handlers)
    url = reverse("admin:customers_pointsentry_changelist")

    paid = rows_of(admin_client.get(url, {"reason__exact": "order_paid"}))
    adjustments = rows_of(admin_client.get(url, {"reason__exact": "adjustment"}))

    assert [(row["customer"], row["amount"], row["order"]) for row in paid] == [("alice", "25", str(shop.paid_order))]
    assert adjustments == []
