"""The four sections of a run, in the order they run: ``accept``, ``pipeline``,
``growth``, ``workers``. Each is a function ``run(bench) -> dict`` of figures."""
