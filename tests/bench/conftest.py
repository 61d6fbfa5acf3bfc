"""The ``bench`` marker: the benchmark harness's smoke run. Registered here, beside the
only tests that carry it, rather than in pyproject.toml."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "bench: the benchmark harness end to end (bench/run.py --smoke); never asserts a speed"
    )
