"""The real configured broker's task queues (filesystem, Redis or RabbitMQ): the queues
themselves (``task_queues``), what waits on them (``queued_messages``), and emptying them
(``purge_queues``). Used by the ``broker`` fixture, the in-process handler runner, the
running stack and the outbox and relay tests."""

from project.celery import app as celery_app


def task_queues():
    """The app's task queues (``task_queues``), each bound to the exchange Celery
    publishes to (reading ``app.amqp.queues`` fills in the default exchange)."""
    celery_app.amqp.queues  # noqa: B018
    return list(celery_app.conf.task_queues)


def queued_messages() -> dict[str, int]:
    """Messages waiting on each task queue (declaring it if it does not exist yet)."""
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        return {q.name: q.bind(channel).queue_declare()[1] for q in task_queues()}


def purge_queues() -> None:
    """Drop whatever is on our task queues (and, on Redis, the messages a consumer took
    without acking, which Redis would otherwise hand out again later)."""
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in task_queues():
            bound = queue.bind(channel)
            bound.declare()
            bound.purge()
        if conn.transport.driver_type == "redis":
            channel.client.delete(channel.unacked_key, channel.unacked_index_key, channel.unacked_mutex_key)
