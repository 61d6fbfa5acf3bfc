"""The "SQL queries per placement and per handler" figures, from ``bench/querycount.py``.

That module is written separately; when it exists, its ``count_queries() -> dict`` is
called once (Django set up, on the run's database, the stack running) and whatever it
returns is reported as it is. Until then the report says "not measured".
"""

import importlib


def query_counts() -> dict | None:
    """``bench.querycount.count_queries()``, or None when there is no such module."""
    try:
        module = importlib.import_module("bench.querycount")
    except ModuleNotFoundError as exc:
        if exc.name == "bench.querycount":
            return None
        raise
    return module.count_queries()
