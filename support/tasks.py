from celery import shared_task
from django.conf import settings

from events.handlers import event_handler
from events.models import Event

from . import services
from .signals import question_asked


@event_handler(
    "support.answer_question",
    queue="support",
    max_attempts=settings.SUPPORT_ANSWER_ATTEMPTS,
    # Room for the model's whole timeout inside the attempt's time limit.
    timeout=max(settings.EVENTS_HANDLER_TIMEOUT, settings.LLM_TIMEOUT + 15),
)
def answer_question(event: Event) -> None:
    """support.question_asked: ask the model (its own queue, so a slow model never
    holds payments), record the answer or hand the question to staff."""
    services.answer_question(
        question_id=question_asked.data_of(event).question_id,
        request_id=str(event.key),
        last_attempt=(event.attempt or 1) >= answer_question.spec.max_attempts,
    )


@shared_task(name="support.hand_over_stalled", ignore_result=True)
def hand_over_stalled() -> int:
    """Periodic: no question is left hanging (a dead-lettered answering run, an answer
    past its deadline): staff get it."""
    return services.hand_over_stalled()
