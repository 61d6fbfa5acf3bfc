"""What keeps the desk within bounds and never leaves a question hanging: the rate of
asking per customer, the daily token budget, and the sweep that hands to staff the
questions no handler will answer."""

from datetime import timedelta

import pytest
from django.utils import timezone

from events import services as event_services
from events.models import Event, HandlerRun
from notifications.models import Notification
from support import services
from support.models import Question
from support.tasks import answer_question
from tests.factories import UserFactory, place_order
from tests.testkit.clients import client_for

QUESTIONS = "/api/v1/support/questions"


@pytest.mark.django_db
def test_a_customer_asking_past_the_rate_is_429_and_others_still_ask(settings, shopper_client):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "support": "2/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}

    answers = [shopper_client.post(QUESTIONS, {"question": f"Q{n}?"}, format="json") for n in range(3)]

    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2].json()["error"]["code"] == "throttled"
    assert int(answers[2]["Retry-After"]) >= 1
    assert Question.objects.count() == 2
    assert shopper_client.get(QUESTIONS).status_code == 200  # reading is not asking
    other = client_for(UserFactory())
    assert other.post(QUESTIONS, {"question": "Mine?"}, format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_past_the_daily_token_budget_questions_go_to_staff_without_a_model_call(
    settings, shopper, shopper_client, mug, run_handlers
):
    order = place_order(shopper.customer, {mug: 1})
    run_handlers()
    first = shopper_client.post(QUESTIONS, {"question": "Where is my order?", "order": order.pk}, format="json")
    run_handlers()
    spent = Question.objects.get(pk=first.json()["id"])
    assert spent.status == "answered"
    settings.SUPPORT_DAILY_TOKEN_BUDGET = spent.prompt_tokens + spent.completion_tokens  # now used up

    second = shopper_client.post(QUESTIONS, {"question": "Where is my order?", "order": order.pk}, format="json")
    run_handlers()

    question = Question.objects.get(pk=second.json()["id"])
    assert question.status == "handed_to_staff"
    assert "budget" in question.handoff_reason
    assert (question.provider, question.prompt_tokens, question.called_at) == ("", 0, None)  # no call made
    assert Notification.objects.filter(kind="support_handed_over", customer=shopper.customer).count() == 1


@pytest.mark.django_db(transaction=True)
def test_yesterdays_tokens_do_not_count_against_todays_budget(settings, shopper, shopper_client, run_handlers):
    settings.SUPPORT_DAILY_TOKEN_BUDGET = 1000
    Question.objects.create(
        customer=shopper.customer,
        question="old",
        status="answered",
        prompt_tokens=5000,
        called_at=timezone.now() - timedelta(days=1, hours=1),
    )

    shopper_client.post(QUESTIONS, {"question": "How many points do I have?"}, format="json")
    run_handlers()

    assert Question.objects.get(question="How many points do I have?").status == "answered"


@pytest.mark.django_db(transaction=True)
def test_a_dead_lettered_answering_run_still_ends_its_question_with_staff(shopper, run_handlers, settings):
    question = services.ask(customer=shopper.customer, question="How many points do I have?")
    event = Event.objects.get(type="support.question_asked")
    # As if every worker died mid-call: the run ran out of attempts and is dead-lettered.
    event_services.dispatch_pending()
    run = HandlerRun.objects.get(event=event, handler="support.answer_question")
    run.dead_letter("attempts exhausted: the last attempt never finished (worker killed or hung)")

    handed = services.hand_over_stalled()

    question.refresh_from_db()
    assert handed == 1
    assert question.status == "handed_to_staff"
    assert Event.objects.filter(type="support.question_handed_over").count() == 1
    # A late copy of the task, or staff retrying the run, answers nothing now.
    assert event_services.retry_failed(run.pk)
    run_handlers()
    question.refresh_from_db()
    assert question.status == "handed_to_staff"
    assert not Event.objects.filter(type="support.question_answered").exists()
    assert services.hand_over_stalled() == 0  # idempotent


@pytest.mark.django_db
def test_a_question_past_its_deadline_goes_to_staff_and_a_recent_one_waits(shopper, settings):
    settings.SUPPORT_ANSWER_DEADLINE = 60.0
    old = services.ask(customer=shopper.customer, question="old?")
    Question.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    recent = services.ask(customer=shopper.customer, question="recent?")

    assert services.hand_over_stalled() == 1

    assert Question.objects.get(pk=old.pk).status == "handed_to_staff"
    assert Question.objects.get(pk=recent.pk).status == "asked"


@pytest.mark.django_db
def test_the_sweep_runs_as_the_periodic_task(shopper, settings):
    settings.SUPPORT_ANSWER_DEADLINE = 0.0
    services.ask(customer=shopper.customer, question="anyone?")

    from support.tasks import hand_over_stalled

    assert hand_over_stalled.apply().get() == 1
    assert answer_question.spec.queue == "support"
