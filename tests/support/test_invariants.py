"""The invariant checker covers the support desk: no question left asked past its
deadline, and each answered question answered once, with its event."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.invariants import INVARIANTS, check_invariants
from events.models import Event
from support import services
from support.models import Question
from tests.factories import place_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def answered(shopper, mug, run_handlers):
    order = place_order(shopper.customer, {mug: 1}, payment_token="tok_declined")
    run_handlers()
    question = services.ask(customer=shopper.customer, question="Why was it cancelled?", order_id=order.pk)
    run_handlers()
    question.refresh_from_db()
    assert question.status == "answered"
    return question


def test_a_desk_run_through_the_real_flow_passes_every_invariant(answered):
    assert {"support_question_unanswered", "support_question_answered_once"} <= set(INVARIANTS)
    assert check_invariants() == []


def test_a_question_still_asked_long_past_its_deadline_is_reported(answered, settings):
    settings.SUPPORT_ANSWER_DEADLINE = 60.0
    stuck = services.ask(customer=answered.customer, question="Hello?")
    Question.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=1))
    fresh = services.ask(customer=answered.customer, question="Still there?")  # not late yet

    findings = check_invariants()

    assert [(f.invariant, f.subject) for f in findings] == [("support_question_unanswered", f"question #{stuck.pk}")]
    assert fresh.pk not in {int(f.subject.split("#")[1]) for f in findings}


def test_a_question_answered_twice_is_reported(answered):
    event = Event.objects.get(type="support.question_answered")
    Event.objects.create(type=event.type, version=event.version, stream=event.stream, payload=event.payload)

    [finding] = check_invariants()

    assert (finding.invariant, finding.subject) == ("support_question_answered_once", f"question #{answered.pk}")
    assert finding.detail == "2 support.question_answered events, expected 1"


def test_an_answered_question_without_its_event_is_reported(answered):
    Event.objects.filter(type="support.question_answered").delete()

    [finding] = check_invariants()

    assert finding.detail == "0 support.question_answered events, expected 1"
