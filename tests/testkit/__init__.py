"""Test support: the helpers that tests import, one module per concern (fixtures and
pytest hooks stay in the ``conftest.py`` files; model factories in tests/factories.py).

* ``clients`` — ``client_for``: an API client authenticated as a user.
* ``broker`` — the configured broker's task queues: list, count, purge.
* ``handlers`` — ``dispatch`` and ``HandlerRunner``: the relay and the handlers run
  in-process (the ``run_handlers`` fixture).
* ``events`` — a throwaway event type's payload and ``record_thing``.
* ``admin`` — a small shop built through the services, and admin page checks.
* ``concurrency`` — ``at_once``: calls racing in threads, each on its own connection.
* ``api_routes`` — the API's routes as the URL conf declares them, and a request for
  each (the permission matrix, error format and bad input tests).
* ``exports`` — the export sinks' real Redis and NATS, and an order's public events.
* ``smtp`` — ``SmtpSink`` and ``Mail``: an SMTP server's handler that keeps every message.
* ``proxy`` — ``BrokerProxy`` and ``proxied_url``: a TCP proxy a test cuts and restores.
* ``processes`` — ``Proc``, subprocesses that die with the test process; ``free_port``,
  ``closed_port``.
* ``stack`` — ``running_stack`` and ``Stack``: worker, web server and relay as real
  processes (e2e, faults, live, fuzz tests and scripts/soak.py); ``settled``, ``settle``.
* ``api`` — ``Api``: a customer talking HTTP to a running stack; ``customer``.
"""
