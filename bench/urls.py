"""The project's URLs plus the benchmark-only baseline ``api/v1/bench/bare-orders``,
so one server in one run serves both endpoints that the accept section compares."""

from django.urls import include, path

from project.urls import handler400, handler403, handler404, handler500

from .baseline import BareOrderApi

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

urlpatterns = [
    path("api/v1/bench/bare-orders", BareOrderApi.as_view(), name="bench-bare-orders"),
    path("", include("project.urls")),
]
