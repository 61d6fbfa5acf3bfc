"""The Orderflow benchmark harness: ``python bench/run.py`` (see bench/README.md).

It starts the production shape on this machine (gunicorn, a Celery worker, the
relay, beat, an SMTP sink) on a database, broker vhost and var dir of its own, drives
it with the asyncio load driver in ``bench.load`` and writes what it measured:
a table, ``results.json``, two PNGs and ``bench/RESULTS.md``.
"""
