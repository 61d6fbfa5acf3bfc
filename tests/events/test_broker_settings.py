"""The Celery settings delivery relies on: publisher confirms, bounded publish
retries, one message per worker process at a time, a queue per domain, and a Redis
visibility timeout longer than any message is held (refused by ``manage.py check``
and by the worker at start)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from kombu import Queue

from events.handlers import handler_specs
from project.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_QUEUES = {"events", "orders", "payments", "notifications", "loyalty", "webhooks", "exports", "support"}


@pytest.mark.skipif(
    not celery_app.conf.broker_url.startswith(("amqp://", "pyamqp://")), reason="publisher confirms are RabbitMQ's"
)
def test_rabbitmq_confirms_every_publish():
    queue = Queue("orderflow-confirm-check", routing_key="orderflow-confirm-check", auto_delete=True)
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        conn.Producer(channel).publish({"ping": 1}, routing_key=queue.routing_key, declare=[queue])
        # The channel is in confirm mode, so the publish above returned only after the
        # broker's ack (py-amqp waits for Basic.Ack/Nack; a nack raises).
        assert channel._confirm_selected is True
        queue.bind(channel).delete()


def test_publishing_gives_up_after_a_bounded_number_of_quick_retries():
    conf = celery_app.conf
    policy = conf.task_publish_retry_policy

    assert conf.task_publish_retry is True
    assert 0 < policy["max_retries"] <= 3
    # Worst case the request waits for these on top of the connection timeout.
    assert policy["max_retries"] * policy["interval_max"] <= 2
    assert conf.broker_connection_timeout <= 5


def test_a_worker_process_takes_one_message_at_a_time_and_acks_it_when_done():
    conf = celery_app.conf

    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True


def test_each_domain_has_its_queue_and_each_task_goes_to_its_domains():
    assert {q.name for q in celery_app.conf.task_queues} == DOMAIN_QUEUES
    router = celery_app.amqp.router
    expected = {
        "payments.charge_order": "payments",
        "payments.settle_cancelled_order": "payments",
        "orders.mark_paid": "orders",
        "orders.cancel_declined": "orders",
        "customers.award_points": "loyalty",
        "customers.revoke_points": "loyalty",
        "notifications.order_confirmed": "notifications",
        "notifications.order_cancelled": "notifications",
        "notifications.support_answered": "notifications",
        "notifications.support_handed_over": "notifications",
        "support.answer_question": "support",
        "webhooks.fan_out": "webhooks",
        "exports.redis": "exports",
        "exports.nats": "exports",
        "exports.kafka": "exports",
    }
    periodic = {
        "events.relay": "events",
        "events.prune": "events",
        "audit.check_invariants": "events",
        "orders.prune_idempotency_keys": "orders",
        "orders.cancel_unpaid_orders": "orders",
        "users.purge_expired_tokens": "events",
        "support.hand_over_stalled": "events",
        "webhooks.sweep": "events",
    }
    # (Tests declare handlers of their own; the shop's are the ones not named tests.*.)
    specs = {spec.name: spec.queue for spec in handler_specs() if not spec.name.startswith("tests.")}

    assert specs == expected
    assert {spec.queue for spec in handler_specs()} <= DOMAIN_QUEUES
    # Sent without a queue (a shell, an old caller), a task still lands on its domain's.
    every_task = expected | periodic | {"webhooks.deliver": "webhooks"}
    assert {name: router.route({}, name)["queue"].name for name in every_task} == every_task
    beat = django_settings.CELERY_BEAT_SCHEDULE
    assert {entry["task"]: entry["options"]["queue"] for entry in beat.values()} == periodic


@pytest.fixture
def redis_broker(monkeypatch):
    """The Celery app pointed at Redis (no connection is made: only the settings are
    checked), with the visibility timeout the test sets."""
    url = "redis://127.0.0.1:6379/4"
    monkeypatch.setenv("CELERY_BROKER_URL", url)  # Celery reads the environment first
    monkeypatch.setitem(celery_app.conf, "broker_url", url)

    def with_visibility_timeout(seconds: float) -> None:
        monkeypatch.setitem(celery_app.conf, "broker_transport_options", {"visibility_timeout": seconds})

    return with_visibility_timeout


def test_manage_py_check_refuses_a_redis_visibility_timeout_below_the_longest_retry(redis_broker, settings):
    settings.EVENTS_RETRY_BACKOFF_MAX = 300
    redis_broker(300)

    with pytest.raises(SystemCheckError) as refused:
        call_command("check")

    assert "(events.E001) The Redis broker's visibility_timeout (300 s) is not above the longest retry" in str(
        refused.value
    )


def test_manage_py_check_refuses_a_visibility_timeout_a_handler_may_outlast(redis_broker, settings):
    settings.EVENTS_RETRY_BACKOFF_MAX = 10
    redis_broker(40)

    with pytest.raises(SystemCheckError) as refused:
        call_command("check")

    assert "is not above the hard time limit of" in str(refused.value)


def test_manage_py_check_accepts_a_visibility_timeout_above_every_hold(redis_broker, settings, capsys):
    settings.EVENTS_RETRY_BACKOFF_MAX = 300
    redis_broker(301)

    call_command("check")

    assert "no issues" in capsys.readouterr().out


def test_a_worker_on_redis_with_a_short_visibility_timeout_exits_at_start_saying_why(tmp_path):
    """A real ``celery worker`` process: it exits before it connects to anything."""
    env = {
        **os.environ,
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/4",
        "CELERY_BROKER_VISIBILITY_TIMEOUT": "120",
        "EVENTS_RETRY_BACKOFF_MAX": "300",
        "ORDERFLOW_VAR_DIR": str(tmp_path),
    }
    worker = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool", "solo", "-l", "info"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert worker.returncode == 1
    assert "Orderflow worker refuses to start" in worker.stderr
    assert "visibility_timeout (120 s) is not above the longest retry countdown" in worker.stderr
    assert "ready" not in worker.stdout + worker.stderr
