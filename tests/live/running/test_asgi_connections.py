"""The ASGI server's REST requests and the database: under ASGI each request's queries
run on a thread of that request's own, so a connection kept after it (as WSGI workers
keep theirs) would never be used again nor closed, and a few hundred requests later
PostgreSQL refuses clients. The benchmark found exactly that; the ASGI process takes
its connections from a pool instead (project.asgi, settings "Database")."""

import pytest
from django.db import connection

from .test_stream_live import _connections, _workers

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_requests_served_over_asgi_leave_no_database_connection_behind(shopper_on_asgi):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no server connections to count")
    api = shopper_on_asgi
    api.place_order({"MUG-01": 1})
    workers = _workers(api.stack.web.popen.pid)
    before = _connections()

    for _ in range(150):
        api.get("orders")  # each a request with its own thread, reading the database

    after = _connections()
    print(f"PostgreSQL connections {before} -> {after} after 150 requests")
    # One request at a time needs one connection at a time: each web process's pool
    # stays at its minimum (2). Kept per-thread connections grew by 15 here.
    assert after - before <= len(workers) * 2, (before, after)
