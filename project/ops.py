"""Operations endpoints: liveness, readiness, metrics (Prometheus text)."""

import logging

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily

from project.celery import app as celery_app

logger = logging.getLogger(__name__)


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        logger.warning("readyz: database unreachable", exc_info=True)
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        logger.warning("readyz: broker unreachable", exc_info=True)
        return False


@require_GET
def readyz(request):
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    ready = all(checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": {k: "ok" if v else "unreachable" for k, v in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)


class _DomainCollector:
    """Read at scrape time from the database, so every web process reports the same
    figures and nothing is lost on restart."""

    def collect(self):
        from events import selectors as event_selectors
        from orders import selectors as order_selectors

        orders = GaugeMetricFamily("orderflow_orders", "Orders by status", labels=["status"])
        for status, count in order_selectors.count_by_status().items():
            orders.add_metric([status], count)
        yield orders
        runs = GaugeMetricFamily(
            "orderflow_handler_runs", "Handler runs by handler and status", labels=["handler", "status"]
        )
        for (handler, status), count in event_selectors.runs_by_handler_and_status().items():
            runs.add_metric([handler, status], count)
        yield runs
        backlog = event_selectors.backlog()
        yield GaugeMetricFamily(
            "orderflow_events_undispatched", "Events not yet dispatched", value=backlog.undispatched
        )
        yield GaugeMetricFamily(
            "orderflow_oldest_undispatched_event_age_seconds",
            "Age of the oldest undispatched event (0 if none)",
            value=backlog.oldest_undispatched_age,
        )
        yield GaugeMetricFamily(
            "orderflow_oldest_open_run_age_seconds",
            "Age of the oldest handler run not yet done (0 if none)",
            value=backlog.oldest_open_run_age,
        )


@require_GET
def metrics(request):
    registry = CollectorRegistry()
    registry.register(_DomainCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
