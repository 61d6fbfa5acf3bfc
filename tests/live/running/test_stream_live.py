"""The live order stream on the running system: gunicorn with uvicorn workers serving
``project.asgi`` (the Procfile's web process), the relay, a Celery worker, the real
broker and database. New events wake the streams through NOTIFY on PostgreSQL and the
poll on SQLite: the same tests prove whichever the run's database uses."""

import http.client
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from events.models import Event
from tests.live.sse import HttpStream

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def stream_of(api, order_id: int, **headers) -> HttpStream:
    auth = {"Authorization": api.session.headers["Authorization"]}
    return HttpStream(api.stack.base_url, f"/api/v1/orders/{order_id}/stream", {**auth, **headers})


def test_a_stream_open_before_the_payment_sees_it_captured_and_the_order_paid_as_it_happens(shopper_on_asgi):
    api = shopper_on_asgi
    stack = api.stack
    stack.worker.stop()  # the payment waits for the worker: the stream is open before it
    order = api.place_order({"MUG-01": 1})
    stream = stream_of(api, order["id"])
    try:
        assert stream.status == 200
        assert stream.response.getheader("Content-Type") == "text/event-stream"
        [placed] = stream.events(1)
        assert placed.event == "order.placed"
        assert api.order(order["id"])["status"] == "pending"

        stack.restart("worker")
        captured, paid = stream.events(2)
    finally:
        stream.close()

    stored = list(Event.objects.filter(stream=f"order:{order['id']}").order_by("id"))
    assert [(b.id, b.event) for b in (placed, captured, paid)] == [(str(e.pk), e.type) for e in stored]
    assert [e.type for e in stored] == ["order.placed", "payment.captured", "order.paid"]
    assert api.order(order["id"])["status"] == "paid"


def test_a_reconnect_over_http_resumes_after_its_last_event_id(shopper_on_asgi):
    api = shopper_on_asgi
    order = api.place_order({"MUG-01": 1}, token="tok_declined")
    api.wait_status(order["id"], "cancelled")
    first = stream_of(api, order["id"])
    [placed] = first.events(1)
    first.close()  # the client goes away after one event

    again = stream_of(api, order["id"], **{"Last-Event-ID": placed.id})
    try:
        rest = again.events(2)
    finally:
        again.close()

    assert placed.event == "order.placed"
    assert [b.event for b in rest] == ["payment.failed", "order.cancelled"]
    assert int(placed.id) < int(rest[0].id) < int(rest[1].id)


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _threads(pids: list[int]) -> int:
    return sum(len(os.listdir(f"/proc/{pid}/task")) for pid in pids)


def _connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_a_hundred_open_streams_hold_no_thread_and_no_database_connection_each(shopper_on_asgi):
    api = shopper_on_asgi
    order = api.place_order({"MUG-01": 1})
    workers = _workers(api.stack.web.popen.pid)
    assert len(workers) == 2
    on_postgres = connection.vendor == "postgresql"
    threads_before = _threads(workers)
    connections_before = _connections() if on_postgres else 0

    streams = [stream_of(api, order["id"]) for _ in range(100)]
    try:
        for stream in streams:
            [placed] = stream.events(1)  # each is open and has been served
            assert placed.event == "order.placed"
        threads_during = _threads(workers)
        connections_during = _connections() if on_postgres else 0
    finally:
        for stream in streams:
            stream.close()

    print(f"threads {threads_before} -> {threads_during}, connections {connections_before} -> {connections_during}")
    # Per worker process at most: the stream pool's threads and a request thread or two;
    # on PostgreSQL the pool's connections and the LISTEN connection.
    bound = len(workers) * (settings.LIVE_STREAM_DB_THREADS + 2)
    assert threads_during - threads_before <= bound, (threads_before, threads_during)
    if on_postgres:
        assert connections_during - connections_before <= len(workers) * (settings.LIVE_STREAM_DB_THREADS + 1)


def test_a_stream_cut_by_a_killed_web_process_resumes_exactly_after_its_last_event(shopper_on_asgi):
    api = shopper_on_asgi
    order = api.place_order({"MUG-01": 1})
    first = stream_of(api, order["id"])
    [placed] = first.events(1)

    api.stack.restart("web", kill=True)  # SIGKILL to the server and its workers; a new one
    with pytest.raises((EOFError, OSError, http.client.HTTPException)):
        first.events(3)  # what it had sent, then the end: it died with its process
    first.close()
    api.wait_status(order["id"], "paid")
    again = stream_of(api, order["id"], **{"Last-Event-ID": placed.id})
    try:
        rest = again.events(2)
    finally:
        again.close()

    stored = list(Event.objects.filter(stream=f"order:{order['id']}").order_by("id"))
    assert [(b.id, b.event) for b in (placed, *rest)] == [(str(e.pk), e.type) for e in stored]
    assert [e.type for e in stored] == ["order.placed", "payment.captured", "order.paid"]
