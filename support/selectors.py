from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from events import selectors as event_selectors

from .models import Question

if TYPE_CHECKING:
    from customers.selectors import Customer

ANSWER_HANDLER = "support.answer_question"
ANSWERED = "support.question_answered"


def questions_of(customer: "Customer | None") -> QuerySet[Question]:
    """The customer's questions, newest first; none for no customer (a staff account)."""
    if customer is None:
        return Question.objects.none()
    return Question.objects.filter(customer=customer).order_by("-created_at", "-id")


def question_of(customer: "Customer | None", question_id: int) -> Question | None:
    return questions_of(customer).filter(pk=question_id).first()


def waiting_for_staff() -> int:
    """Questions handed to staff and not answered yet (the status index)."""
    return Question.objects.filter(status=Question.Status.HANDED_TO_STAFF).count()


def tokens_used_since(start: datetime) -> int:
    """Tokens the model calls made since ``start`` cost (answered or not)."""
    used = Question.objects.filter(called_at__gte=start).aggregate(n=Sum(F("prompt_tokens") + F("completion_tokens")))[
        "n"
    ]
    return int(used or 0)


def tokens_used_today() -> int:
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    return tokens_used_since(midnight)


def stalled_question_ids(*, asked_before: datetime) -> list[int]:
    """Questions still ``asked`` that no handler will answer: their answering run
    failed for good (dead-lettered, or given up by staff), or they were asked before
    ``asked_before`` (the answer's deadline)."""
    dead = event_selectors.failed_runs(handlers=[ANSWER_HANDLER]).values_list("event__payload", flat=True)
    dead_ids = [payload["question_id"] for payload in dead]
    stuck = Question.objects.filter(status=Question.Status.ASKED).filter(
        Q(created_at__lt=asked_before) | Q(pk__in=dead_ids)
    )
    return list(stuck.order_by("id").values_list("id", flat=True))


def unanswered_before(asked_before: datetime) -> QuerySet[Question]:
    """Questions still ``asked`` that were asked before then (the invariant checker)."""
    return Question.objects.filter(status=Question.Status.ASKED, created_at__lt=asked_before).order_by("id")


def answers_out_of_line(*, answered_since: datetime) -> list[tuple[int, int]]:
    """(question id, its ``support.question_answered`` events) for every question
    answered other than once: two answer events, or answered since ``answered_since``
    (within the events' retention: older events may be pruned) without its event."""
    answers = {int(q): n for q, n in event_selectors.counts_by_payload_field(ANSWERED, "question_id").items()}
    found = [(question_id, n) for question_id, n in answers.items() if n > 1]
    answered = Question.objects.filter(status=Question.Status.ANSWERED, answered_at__gte=answered_since)
    found += [(question_id, 0) for question_id in answered.values_list("pk", flat=True) if question_id not in answers]
    return sorted(found)


def figures_by_provider() -> list[dict[str, Any]]:
    """Per provider, of the model calls that answered (questions are never deleted, so
    these only grow): how many, their total latency and tokens (``/metrics``)."""
    return list(
        Question.objects.filter(called_at__isnull=False)
        .values("provider")
        .annotate(
            calls=Count("id"),
            latency_ms=Sum("latency_ms"),
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
        )
        .order_by("provider")
    )


def count_by_status() -> dict[str, int]:
    counts = dict.fromkeys(Question.Status.values, 0)
    for row in Question.objects.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts
