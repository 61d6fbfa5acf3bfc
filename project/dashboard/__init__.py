"""The admin's front page: is the shop healthy, and how is it doing?

It reads every domain (orders, points, the event pipeline, the invariant checker), so it
lives in the project, where it may depend on all of them and none depends on it. Every
figure comes from a selector of the app that owns the data, one query each, bounded by
an index (its cost follows the window shown, not the size of the tables); where a figure
is also in ``/metrics`` it is the same selector, so the page and Prometheus agree.
"""
