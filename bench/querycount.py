"""SQL statements per placement, per dispatcher pass and per handler, counted.

Everything runs in this process, inside one transaction that is rolled back at the end:
nothing it makes is ever committed, so the running stack never sees it (the relay is
woken by commits; the worker gets no task: the dispatcher's publish is replaced here by
a list). Each step is counted with Django's ``CaptureQueriesContext``:

* a placement: ``POST /api/v1/orders`` through the whole request path (authentication,
  throttles, validation, the service, the answer) with 1, 10 and 100 lines;
* a dispatcher pass over 1 event and over a batch of them;
* every handler of one order's flow (charge, mark paid, points, confirmation), each as
  a worker runs it, its own events dispatched in turn;
* the admin's front page (``project.dashboard``: its figures, charts and banner), with
  the time it takes (the best of three), since its cost must not grow with the tables.

Counted are the statements sent; transaction control is not (BEGIN and COMMIT are not
statements Django reports, and the SAVEPOINTs that nesting in this one transaction
adds would not exist in production, so they are left out too).
"""

import json
import time
from contextlib import contextmanager
from unittest import mock

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog.models import Product
from events.models import Event, HandlerRun
from events.services import dispatch as dispatcher
from project.dashboard import attention, figures
from users import services as user_services

from .seed import api_token

LINE_COUNTS = (1, 10, 100)
BATCH = 50
TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")


class _RolledBack(Exception):
    pass


def count_queries() -> dict:
    """``{"placement": {"1 line": n, ...}, "dispatcher pass": {"1 event": n, ...},
    "handler run": {handler: n, ...}}``: SQL statements each."""
    counts: dict = {}
    try:
        with transaction.atomic():
            _count(counts)
            raise _RolledBack
    except _RolledBack:
        pass
    return counts


def _count(counts: dict) -> None:
    user = user_services.register_user(
        username="querycount", email="querycount@bench.localhost", password="a long bench passphrase 42"
    )
    client = Client(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    products = list(Product.objects.filter(is_active=True).order_by("id")[: max(LINE_COUNTS)])
    _place(client, products[:1])  # the first request of a client warms what is cached
    counts["placement"] = {
        f"{n} line{'s' * (n > 1)}": _statements(lambda n=n: _place(client, products[:n])) for n in LINE_COUNTS
    }
    sent: list[tuple[object, int]] = []
    with _publishing_into(sent):
        dispatcher.dispatch_pending()  # what the placements above recorded
        _place(client, products[:2])
        counts["dispatcher pass"] = {"1 event": _statements(dispatcher.dispatch_pending)}
        for _ in range(BATCH):
            _place(client, products[:2])
        counts["dispatcher pass"][f"{BATCH} events"] = _statements(dispatcher.dispatch_pending)
        sent.clear()
        order_id = _place(client, products[:2])
        counts["handler run"] = _run_flow(order_id, sent)
    counts["admin front page"] = _front_page_cost()


def _front_page_cost() -> dict[str, int]:
    def draw():
        figures.dashboard()
        attention.alerts()

    queries = _statements(draw)
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        draw()
        seconds.append(time.perf_counter() - started)
    return {"queries": queries, "ms": round(min(seconds) * 1000)}


def _place(client: Client, products: list[Product]) -> int:
    body = {"items": [{"sku": p.sku, "quantity": 1} for p in products], "payment_token": "tok_ok"}
    response = client.post("/api/v1/orders", json.dumps(body), content_type="application/json")
    if response.status_code != 201:
        raise RuntimeError(f"querycount: POST /api/v1/orders answered {response.status_code}: {response.content!r}")
    return response.json()["id"]


def _run_flow(order_id: int, sent: list) -> dict[str, int]:
    """Dispatch the order's events and run each handler as a worker would, until its
    flow is done; the statements of each handler run."""
    per_handler: dict[str, int] = {}
    for _ in range(10):  # placed -> captured -> paid: three rounds; ten is a bound
        dispatcher.dispatch_pending()
        batch, sent[:] = list(sent), []
        if not batch:
            break
        for task, event_id in batch:
            run = HandlerRun.objects.get(event_id=event_id, handler=task.name)
            per_handler[task.name] = _statements(lambda task=task, run=run: task.apply(args=[run.event_id]))
    stream = f"order:{order_id}"
    open_runs = HandlerRun.objects.filter(event__stream=stream).exclude(status=HandlerRun.Status.DONE)
    if open_runs.exists() or Event.objects.filter(stream=stream, dispatched_at=None).exists():
        raise RuntimeError(f"querycount: the flow of order {order_id} did not finish in this process")
    return per_handler


@contextmanager
def _publishing_into(sent: list):
    """The dispatcher's publish, replaced by a list: no task leaves this process."""
    with mock.patch.object(dispatcher, "publish_batch", sent.extend):
        yield


def _statements(step) -> int:
    with CaptureQueriesContext(connection) as captured:
        step()
    return sum(1 for q in captured.captured_queries if not q["sql"].upper().startswith(TRANSACTION_CONTROL))
