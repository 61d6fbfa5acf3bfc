"""Running the event flow in-process: ``dispatch`` is the relay's pass (every due event
sent to the broker); ``HandlerRunner`` (the ``run_handlers`` fixture) also consumes every
message on the task queues and runs its task with ``Task.apply`` until the broker
settles. Used by tests/conftest.py and the tests that look at what the relay sent."""

from dataclasses import dataclass, field

import pytest
from django.utils import timezone
from kombu import Consumer

from events import selectors as event_selectors
from events import services as event_services
from project.celery import app as celery_app

from .broker import queued_messages, task_queues


@dataclass
class HandlerRunner:
    """Drains the broker, running each task in-process. Call it; it returns the names
    of the tasks it ran, in order."""

    idle_timeout: float = 0.1  # seconds without a message before the queues are checked
    max_rounds: int = 20
    max_messages: int = 200
    ran: list[str] = field(default_factory=list)

    def __call__(self) -> list[str]:
        start = len(self.ran)
        for _ in range(self.max_rounds):
            dispatch()
            self._consume_until_idle()
            # The consuming connection is closed: anything delivered to it and not acked
            # is back on its queue and counted here.
            if not any(queued_messages().values()) and not _undispatched():
                return self.ran[start:]
        pytest.fail(f"the broker did not settle after {self.max_rounds} rounds: {queued_messages()}")

    def _consume_until_idle(self) -> None:
        failures = []

        def on_message(body, message):
            if len(self.ran) >= self.max_messages:
                failures.append(f"more than {self.max_messages} messages: a handler loops? ran {self.ran}")
                message.requeue()
                return
            headers = message.headers or {}
            name, task_id = headers.get("task"), headers.get("id")
            if name is None:  # Celery's message protocol 1 carries them in the body
                name, task_id, args, kwargs = body["task"], body["id"], body["args"], body["kwargs"]
            else:
                args, kwargs, _embed = body
            result = celery_app.tasks[name].apply(args=args, kwargs=kwargs, task_id=task_id, throw=False)
            message.ack()
            self.ran.append(name)
            if result.failed():
                failures.append(f"task {name}[{task_id}] raised:\n{result.traceback}")

        # A short polling interval: the filesystem transport polls, and Redis's blocking
        # pop (its timeout is the polling interval) must return before the close.
        options = {"polling_interval": self.idle_timeout / 2}
        with (
            celery_app.connection_for_read(transport_options=options) as conn,
            Consumer(conn, queues=task_queues(), callbacks=[on_message], accept=["json"], prefetch_count=1),
        ):
            while not failures:
                try:
                    conn.drain_events(timeout=self.idle_timeout)
                except TimeoutError:  # socket.timeout: idle for idle_timeout
                    break
        if failures:
            pytest.fail("\n".join(failures))


def dispatch() -> int:
    """What the relay process does when events are recorded: dispatch every event that
    is due; returns how many were dispatched."""
    dispatched = 0
    while (report := event_services.dispatch_pending()).claimed:
        dispatched += report.dispatched
        if report.failed:
            break  # the broker refused: the next round tries again
    return dispatched


def _undispatched() -> bool:
    return event_selectors.due_for_dispatch(timezone.now()).exists()
