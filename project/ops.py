"""Operations endpoints: liveness, readiness, metrics (Prometheus text)."""

import logging

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from project.celery import app as celery_app
from project.errors import error_body

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
    figures, whichever process (web or worker) did the work, and nothing is lost on
    restart. Counters count rows (orders are never deleted; what retention deletes of
    events and runs is added to ``events.PrunedTally`` first, so no counter goes down)."""

    def collect(self):
        from events import selectors as event_selectors
        from orders import selectors as order_selectors

        yield from self._orders(order_selectors)
        yield from self._events(event_selectors)
        yield from self._handler_runs(event_selectors)
        yield from self._webhooks()
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
            "Age of the oldest handler run not yet done (pending, running or retrying; 0 if none)",
            value=backlog.oldest_open_run_age,
        )

    def _orders(self, order_selectors):
        orders = GaugeMetricFamily("orderflow_orders", "Orders by status", labels=["status"])
        for status, count in order_selectors.count_by_status().items():
            orders.add_metric([status], count)
        yield orders
        outcomes = order_selectors.outcome_counts()
        for outcome, count in outcomes.items():
            yield CounterMetricFamily(f"orderflow_orders_{outcome}", f"Orders ever {outcome}", value=count)

    def _events(self, event_selectors):
        recorded = CounterMetricFamily("orderflow_events_recorded", "Events recorded, by type", labels=["type"])
        dispatched = CounterMetricFamily("orderflow_events_dispatched", "Events dispatched, by type", labels=["type"])
        for event_type, (n_recorded, n_dispatched) in sorted(event_selectors.counts_by_type().items()):
            recorded.add_metric([event_type], n_recorded)
            dispatched.add_metric([event_type], n_dispatched)
        yield recorded
        yield dispatched

    def _handler_runs(self, event_selectors):
        runs = GaugeMetricFamily(
            "orderflow_handler_runs", "Handler runs by handler and status", labels=["handler", "status"]
        )
        for (handler, status), count in sorted(event_selectors.runs_by_handler_and_status().items()):
            runs.add_metric([handler, status], count)
        yield runs
        durations = HistogramMetricFamily(
            "orderflow_handler_duration_seconds",
            "How long the successful attempt of each done handler run took",
            labels=["handler"],
        )
        for handler, histogram in sorted(event_selectors.done_run_durations().items()):
            buckets = [(floatToGoString(bound), count) for bound, count in histogram.buckets]
            durations.add_metric([handler], buckets=[*buckets, ("+Inf", histogram.count)], sum_value=histogram.total)
        yield durations

    def _webhooks(self):
        from webhooks import selectors as webhook_selectors

        attempts = CounterMetricFamily(
            "orderflow_webhook_attempts", "Webhook delivery attempts, by outcome", labels=["outcome"]
        )
        for outcome, count in sorted(webhook_selectors.attempt_counts().items()):
            attempts.add_metric([outcome], count)
        yield attempts
        deliveries = GaugeMetricFamily(
            "orderflow_webhook_deliveries", "Webhook deliveries by status", labels=["status"]
        )
        for delivery_status, count in sorted(webhook_selectors.deliveries_by_status().items()):
            deliveries.add_metric([delivery_status], count)
        yield deliveries


@require_GET
def metrics(request):
    """Prometheus text. With ``METRICS_TOKEN`` set, only for a scraper that sends it
    (``Authorization: Bearer <token>``): the figures are the business's volumes."""
    expected = settings.METRICS_TOKEN
    if expected:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not constant_time_compare(given, expected):
            response = JsonResponse(error_body("not_authenticated", "A metrics token is required."), status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    registry = CollectorRegistry()
    registry.register(_DomainCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
