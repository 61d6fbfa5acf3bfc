"""The admin's front page answers "is the shop healthy, and how is it doing?", and a
banner on every admin page says when something needs a person (project/dashboard)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import InvariantReport
from customers import selectors as customer_selectors
from events import selectors as event_selectors
from events.models import Event, HandlerRun
from orders.models import Order
from project.dashboard import charts
from project.dashboard.figures import dashboard
from tests.factories import ProductFactory, UserFactory, place_order
from tests.testkit.admin import admin_action, break_email, build_shop, messages_of, rows_of

INDEX = reverse("admin:index")


def figures_of(response):
    return response.context["orderflow_dashboard"]


@pytest.mark.django_db(transaction=True)
def test_the_front_page_shows_today_the_week_and_the_pipeline_from_the_shops_own_data(
    admin_client, run_handlers, settings
):
    break_email(settings)  # the emails cannot go out: their handlers' runs fail
    shop = build_shop(run_handlers)  # one order paid, one cancelled (declined), handlers run
    week_old = place_order(shop.shopper.customer, {shop.product: 1})
    run_handlers()
    Order.objects.filter(pk=week_old.pk).update(created_at=timezone.now() - timedelta(days=3))
    waiting = place_order(shop.shopper.customer, {shop.product: 1})  # its event left undispatched
    Event.objects.filter(stream=f"order:{waiting.pk}").update(occurred_at=timezone.now() - timedelta(minutes=5))

    response = admin_client.get(INDEX)

    assert response.status_code == 200
    d = figures_of(response)
    today, week = (period.outcomes for period in d.periods)
    assert (today.placed, week.placed) == (3, 4)
    assert (today.paid, week.paid) == (2, 2)  # paid today, whenever placed
    assert today.cancelled == week.cancelled == {"payment_declined": 1}
    assert today.revenue == {"EUR": Decimal("25.80") + Decimal("12.90")}
    balance = customer_selectors.points_balance(shop.shopper.customer)
    assert [period.points for period in d.periods] == [balance, balance]
    pipeline = {figure.label: figure.value for figure in d.pipeline}
    assert pipeline["Undispatched events"] == 1
    assert pipeline["Oldest undispatched event"] == "5 min"
    failed = HandlerRun.objects.filter(status="failed")
    assert {(f.handler, f.count) for f in d.failed} == {
        (handler, failed.filter(handler=handler).count()) for handler in failed.values_list("handler", flat=True)
    }
    assert d.invariants == InvariantReport.objects.order_by("-ran_at").first()  # the last check's
    page = response.content.decode()
    assert "Orders per hour, last 24 h" in page
    assert "Handler duration, last 24 h" in page
    assert "Backlog, last 24 h" in page
    assert page.count('<figure class="of-chart">') == 3


@pytest.mark.django_db(transaction=True)
def test_a_failed_run_figure_links_to_its_runs_where_one_click_retries_them(admin_client, run_handlers, settings):
    break_email(settings)
    build_shop(run_handlers)
    link = next(f for f in figures_of(admin_client.get(INDEX)).failed if f.handler == "notifications.order_confirmed")

    listed = admin_client.get(link.url)

    runs = HandlerRun.objects.filter(status="failed", handler="notifications.order_confirmed")
    assert [row["id"] for row in rows_of(listed)] == [str(run.pk) for run in runs]
    count = runs.count()
    retried = admin_action(admin_client, "events.handlerrun", "retry_failed_runs", runs)
    assert f"Retried {count} failed run(s); skipped 0 not failed." in messages_of(retried)
    assert not HandlerRun.objects.filter(status="failed", handler="notifications.order_confirmed").exists()


@pytest.mark.django_db
def test_every_admin_page_carries_a_banner_when_something_needs_a_person(admin_client):
    shopper = UserFactory()
    order = place_order(shopper.customer, {ProductFactory(): 1})
    event = Event.objects.get(stream=f"order:{order.pk}")
    Event.objects.filter(pk=event.pk).update(occurred_at=timezone.now() - timedelta(minutes=2))
    HandlerRun.objects.create(
        event=event, handler="payments.charge_order", status="failed", deadline=timezone.now(), last_error="boom"
    )
    report = InvariantReport.objects.create(
        ok=False, findings=[{"invariant": "paid_orders_have_a_capture", "subject": "order:1", "detail": "none"}]
    )

    page = admin_client.get(reverse("admin:catalog_product_changelist")).content.decode()

    assert '<ul class="of-alerts" role="alert">' in page
    assert f'href="{reverse("admin:events_handlerrun_changelist")}?status__exact=failed"' in page
    assert "1 handler run failed and wait for staff" in page
    assert "1 event undispatched for over 60 s" in page
    assert f'href="{reverse("admin:events_event_changelist")}?dispatched=no"' in page
    assert "found 1 problem" in page
    assert reverse("admin:audit_invariantreport_change", args=[report.pk]) in page


@pytest.mark.django_db
def test_no_banner_when_all_is_well_and_none_for_the_login_page(admin_client, client):
    assert 'class="of-alerts"' not in admin_client.get(INDEX).content.decode()
    with CaptureQueriesContext(connection) as queries:
        login = client.get(reverse("admin:login"))
    assert login.status_code == 200
    assert 'class="of-alerts"' not in login.content.decode()
    assert not [q for q in queries if "events_" in q["sql"] or "orders_" in q["sql"]]


@pytest.mark.django_db
def test_the_front_page_costs_the_same_queries_with_two_orders_or_forty(admin_client):
    shopper = UserFactory()
    product = ProductFactory(stock=1000)

    def queries_for_the_front_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(INDEX).status_code == 200
        return len(queries)

    for _ in range(2):
        place_order(shopper.customer, {product: 1})
    few = queries_for_the_front_page()
    for _ in range(38):
        place_order(shopper.customer, {product: 1})
    many = queries_for_the_front_page()

    assert few == many


@pytest.mark.django_db
def test_an_order_counts_in_the_window_of_each_thing_that_happened_to_it():
    shopper = UserFactory()
    product = ProductFactory(stock=10)
    old = place_order(shopper.customer, {product: 1})
    now = timezone.now()
    Order.objects.filter(pk=old.pk).update(
        created_at=now - timedelta(days=9), status="paid", paid_at=now - timedelta(days=2)
    )

    d = dashboard(now=now)

    today, week = (period.outcomes for period in d.periods)
    assert (today.placed, today.paid, week.placed, week.paid) == (0, 0, 0, 1)
    assert week.revenue == {old.currency: old.total}


# --- Charts ------------------------------------------------------------------------------
def test_a_line_chart_draws_a_line_per_series_with_a_titled_point_per_value():
    svg = charts.line_chart(
        title="Orders",
        labels=["10h", "11h", "12h"],
        series=[charts.Series("placed", [1, 4, 2]), charts.Series("paid", [0, 3, 2])],
    )

    assert svg.count("<polyline") == 2
    assert svg.count("<circle") == 6
    assert "<title>11h placed: 4</title>" in svg
    assert 'aria-label="Orders"' in svg
    assert ">5</text>" in svg  # the axis rounds 4 up to 5


def test_a_chart_escapes_what_it_is_given():
    svg = charts.bar_chart(title="<b>x</b>", labels=["<script>"], series=[charts.Series("p50", [1.0])], unit=" ms")

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "<b>" not in svg


@pytest.mark.parametrize(
    ("q", "expected"),
    [(0.5, 0.01), (0.25, 0.0075), (0.95, 0.0235), (1.0, 0.025)],
)
def test_a_quantile_is_read_from_the_metrics_buckets_as_prometheus_does(q, expected):
    # 100 runs: 0 up to 5 ms, 50 more up to 10 ms, 50 more up to 25 ms.
    cumulative = [(0.005, 0), (0.01, 50), (0.025, 100)]

    assert event_selectors._quantile(q, cumulative, 100) == pytest.approx(expected, abs=1e-4)
