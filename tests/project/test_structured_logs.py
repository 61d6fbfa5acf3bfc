"""Log lines carry what they are about: the order, the event, the handler and the
task, in the worker (a handler run) and the web process (an order placed over the
API), set by the code that knows and copied onto each record by one logging filter."""

import json
import logging

import pytest

from events.models import Event
from project import logcontext
from tests.factories import ProductFactory, UserFactory, place_order
from tests.testkit.handlers import dispatch

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def records(caplog):
    """Records at INFO and above, through the same filter the console handler uses."""
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(logcontext.ContextFilter())
    return caplog


def test_a_handler_runs_log_lines_carry_its_event_order_handler_and_task(records, run_handlers):
    order = place_order(UserFactory().customer, {ProductFactory(stock=5): 1})
    records.clear()

    run_handlers()

    done = [r for r in records.records if r.name == "events.handlers" and r.getMessage().endswith(" done")]
    assert len(done) == 4  # charge, mark paid, points, confirmation
    events = {e.pk: e for e in Event.objects.all()}
    for record in done:
        event = events[record.event_id]
        assert record.order_id == order.pk
        assert event.stream == f"order:{order.pk}"
        assert record.task_id == f"{event.pk}:{record.handler}"
    assert {r.handler for r in done} == {
        "payments.charge_order",
        "orders.mark_paid",
        "customers.award_points",
        "notifications.order_confirmed",
    }
    # What the handler's service logs inside the run carries them too.
    [paid] = [r for r in records.records if r.name == "orders.services" and r.getMessage() == "order paid"]
    assert (paid.order_id, paid.handler) == (order.pk, "orders.mark_paid")
    assert paid.event_id == Event.objects.get(type="order.paid").pk
    assert logcontext.current() == {}  # nothing outlives the run


def test_an_order_placed_over_the_api_logs_its_order_event_and_request(records, shopper_client, mug, broker):
    response = shopper_client.post(
        "/api/v1/orders",
        {"items": [{"sku": "MUG-01", "quantity": 1}], "payment_token": "tok_ok"},
        format="json",
        HTTP_X_REQUEST_ID="req-42",
    )

    assert response.status_code == 201
    order_id = response.json()["id"]
    placed_event = Event.objects.get(type="order.placed")
    [placed] = [r for r in records.records if r.getMessage().startswith("order placed")]
    assert (placed.order_id, placed.event_id, placed.request_id) == (order_id, placed_event.pk, "req-42")
    assert logcontext.current() == {}  # the request's scope ended with it

    dispatch()  # the dispatcher's pass, in the relay process

    [dispatched] = [r for r in records.records if r.name == "events.dispatch" and "dispatched to" in r.getMessage()]
    assert (dispatched.order_id, dispatched.event_id) == (order_id, placed_event.pk)
    assert not hasattr(dispatched, "request_id")
    assert logcontext.current() == {}


def test_the_console_writes_one_json_object_per_line_with_the_context():
    [console] = [
        h
        for h in logging.getLogger().handlers
        # settings.LOGGING's "console" (pytest adds handlers of its own)
        if type(h) is logging.StreamHandler and any(isinstance(f, logcontext.ContextFilter) for f in h.filters)
    ]
    record = logging.LogRecord("orders.services", logging.INFO, __file__, 1, "order placed: %s lines", (2,), None)

    with logcontext.log_context(order_id=7, event_id=11):
        assert console.filter(record)
    line = json.loads(console.format(record))

    assert line["message"] == "order placed: 2 lines"
    assert (line["level"], line["logger"], line["order_id"], line["event_id"]) == ("INFO", "orders.services", 7, 11)
    assert "handler" not in line  # not in context: left out, not null
