"""The support desk's writes: asking, answering (by the model or by staff), handing to
staff. Each records its event in the same transaction as the change it announces.

Services a handler calls join its transaction whole (``atomic(savepoint=False)``):
the question's new status, its event and the handler run's done-mark commit together
or not at all, so a retried or redelivered run records the answer once.
"""

import logging
import re
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from events import services as events
from events.types import Payload
from orders import selectors as order_selectors
from orders import services as order_services

from . import prompts, selectors
from .models import Question
from .providers import ProviderError, get_provider
from .signals import QuestionAnswered, QuestionAsked, QuestionClosed, QuestionHandedOver

if TYPE_CHECKING:
    from customers.selectors import Customer

logger = logging.getLogger(__name__)


class SupportError(Exception):
    field = "non_field_errors"


class NoSuchOrder(SupportError):
    field = "order"

    def __init__(self) -> None:
        super().__init__("No such order.")


class QuestionNotOpen(SupportError):
    """Staff answered or closed a question that is already answered or closed."""


@transaction.atomic
def ask(*, customer: "Customer", question: str, order_id: int | None = None) -> Question:
    """Record the customer's question and ``support.question_asked``, in one transaction.

    ``order_id`` must name one of the customer's orders (``NoSuchOrder`` otherwise, the
    same for another customer's order as for none: nothing tells them it exists);
    nothing is written then. Without it, an order the text names ("where is my order
    12?") is the question's if it is one of the customer's; anyone else's is ignored.
    The answer comes later, from the answering handler.
    """
    if order_id is not None and order_selectors.order_of(customer, order_id) is None:
        raise NoSuchOrder
    if order_id is None:
        order_id = _order_named_in(customer, question)
    asked = Question.objects.create(customer=customer, order_id=order_id, question=question)
    if order_id is not None and connection.vendor == "postgresql":
        # Check the new row's foreign keys now, not at commit: that takes the customer
        # row's key-share lock before the order's lock below. At commit it would come
        # after it, and a writer holding the customer (the points ledger locks it, then
        # references the order) would wait for us while we wait for it: a deadlock.
        connection.check_constraints(table_names=[Question._meta.db_table])
    _record(QuestionAsked(question_id=asked.pk, customer_id=customer.pk, order_id=order_id, question=question))
    return asked


@transaction.atomic(savepoint=False)
def answer_question(*, question_id: int, request_id: str, last_attempt: bool) -> Question:
    """Answer the question with the configured provider, or hand it to staff.

    Runs in the handler's transaction, under the question's row lock: a question no
    longer ``asked`` (answered by an earlier delivery, handed over, answered by staff)
    is left alone, so it is answered once however often this runs. Over the daily token
    budget it goes to staff without a call. A provider error is raised for the handler
    machinery to retry with backoff (honouring ``Retry-After``), except on the last
    attempt, or when retrying cannot help: then the question goes to staff, never left
    hanging. ``request_id`` (the event's key) goes with the call, the same on every retry.
    Records ``support.question_answered`` or ``support.question_handed_over``.
    """
    question = Question.objects.select_for_update().select_related("customer").get(pk=question_id)
    if question.status != Question.Status.ASKED:
        return question
    used, budget = selectors.tokens_used_today(), settings.SUPPORT_DAILY_TOKEN_BUDGET
    if used >= budget:
        return _hand_over(question, reason=f"the daily token budget is spent ({used} of {budget} tokens)")
    prompt = prompts.build(question)
    provider = get_provider()
    question.prompt = prompt.as_text()
    question.provider = provider.name
    began = time.monotonic()
    try:
        completion = provider.complete(prompt, request_id=request_id)
    except ProviderError as exc:
        if not (last_attempt or exc.permanent):
            raise
        logger.warning("question=%s provider %s failed for good: %s", question_id, provider.name, exc)
        return _hand_over(question, reason=f"the model could not answer: {exc}")
    question.latency_ms = round((time.monotonic() - began) * 1000)
    question.called_at = timezone.now()
    question.model = completion.model
    question.prompt_tokens = completion.prompt_tokens
    question.completion_tokens = completion.completion_tokens
    if completion.handoff:
        return _hand_over(question, reason="the model could not answer from the facts", answer=completion.text)
    return _answered(question, answer=completion.text)


@transaction.atomic
def answer_by_hand(*, question_id: int, answer: str, by: str) -> Question:
    """Staff answer a question (handed over, or still waiting): it becomes ``answered``
    with ``support.question_answered`` (provider ``staff``), and the customer is told
    as for a model's answer. ``QuestionNotOpen`` if it is already answered or closed."""
    question = Question.objects.select_for_update().get(pk=question_id)
    if question.status not in (Question.Status.ASKED, Question.Status.HANDED_TO_STAFF):
        raise QuestionNotOpen(f"Question #{question_id} is already {question.get_status_display()}.")
    answer = answer.strip()
    if not answer:
        raise SupportError("An answer cannot be empty.")
    question.answered_by = by
    # The row keeps what the model's try cost (its provider, latency, tokens: the
    # figures per provider); the event says who answered and how long it took.
    waited_ms = round((timezone.now() - question.created_at).total_seconds() * 1000)
    return _answered(question, answer=answer, by_staff=waited_ms)


@transaction.atomic
def close_unanswered(*, question_id: int, by: str, reason: str = "") -> bool:
    """Staff close a question without an answer: it ends ``failed`` (its final status,
    with ``support.question_closed``). Idempotent: an answered or closed question is
    left alone and False returned."""
    question = Question.objects.select_for_update().get(pk=question_id)
    if question.status not in (Question.Status.ASKED, Question.Status.HANDED_TO_STAFF):
        return False
    note = f"closed by {by}" + (f": {reason}" if reason else "")
    question.status = Question.Status.FAILED
    question.handoff_reason = note[:200]
    question.answered_by = by
    question.save()
    _record(
        QuestionClosed(
            question_id=question.pk, customer_id=question.customer_id, order_id=question.order_id, reason=note[:200]
        )
    )
    return True


@transaction.atomic(savepoint=False)
def hand_over(*, question_id: int, reason: str) -> bool:
    """Hand a question still ``asked`` to staff (``support.question_handed_over``);
    idempotent: returns False, changing nothing, if it is no longer ``asked``."""
    question = Question.objects.select_for_update().get(pk=question_id)
    if question.status != Question.Status.ASKED:
        return False
    _hand_over(question, reason=reason)
    return True


def hand_over_stalled(*, now: datetime | None = None) -> int:
    """Hand to staff every question no handler will answer: its answering run failed
    for good (a dead letter: e.g. the worker died on every attempt), or it is older
    than ``SUPPORT_ANSWER_DEADLINE``. One transaction per question; returns how many."""
    now = now or timezone.now()
    before = now - timedelta(seconds=settings.SUPPORT_ANSWER_DEADLINE)
    handed = 0
    for question_id in selectors.stalled_question_ids(asked_before=before):
        with transaction.atomic():
            handed += hand_over(question_id=question_id, reason="the answer did not come in time")
    return handed


def _record(data: Payload) -> None:
    """Record a question's event; one on an order's stream holds the order's lock until
    commit first, as every writer of an order's events does, so they commit in id order
    (``orders.services.hold_for_events``: the live order stream resumes on that)."""
    order_id = getattr(data, "order_id", None)
    if order_id is not None:
        order_services.hold_for_events(order_id=order_id)
    events.record(data)


ORDER_IN_TEXT = re.compile(r"(?:order\s*(?:number|no\.?)?\s*#?|#)\s*(\d{1,18})\b", re.IGNORECASE)


def _order_named_in(customer: "Customer", text: str) -> int | None:
    for match in ORDER_IN_TEXT.finditer(text):
        order = order_selectors.order_of(customer, int(match.group(1)))
        if order is not None:
            return order.pk
    return None


def _answered(question: Question, *, answer: str, by_staff: int | None = None) -> Question:
    """``by_staff``: answered by hand, after waiting that many milliseconds."""
    question.status = Question.Status.ANSWERED
    question.answer = answer
    question.answered_at = timezone.now()
    question.save()
    staff = by_staff is not None
    _record(
        QuestionAnswered(
            question_id=question.pk,
            customer_id=question.customer_id,
            order_id=question.order_id,
            answer=answer,
            provider="staff" if staff else question.provider,
            model="" if staff else question.model,
            latency_ms=by_staff if by_staff is not None else question.latency_ms or 0,
            prompt_tokens=0 if staff else question.prompt_tokens,
            completion_tokens=0 if staff else question.completion_tokens,
        )
    )
    return question


def _hand_over(question: Question, *, reason: str, answer: str = "") -> Question:
    question.status = Question.Status.HANDED_TO_STAFF
    question.handoff_reason = reason[:200]
    # What the customer is told meanwhile (the sandbox's honest "handed to staff").
    question.answer = answer
    question.save()
    _record(
        QuestionHandedOver(
            question_id=question.pk, customer_id=question.customer_id, order_id=question.order_id, reason=reason[:200]
        )
    )
    return question
