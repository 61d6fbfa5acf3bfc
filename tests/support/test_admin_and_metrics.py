"""Staff's side of the desk: questions by status with the prompt and the answer, an
answer given by hand (recorded with its event, and the customer told), and the figures
per provider in /metrics."""

import pytest
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from events.models import Event
from notifications.models import Notification
from support import services
from support.models import Question
from tests.factories import place_order

QUESTIONS = "/api/v1/support/questions"


@pytest.fixture
def handed_over(shopper, shopper_client, run_handlers):
    question_id = shopper_client.post(QUESTIONS, {"question": "Do you sell gift cards?"}, format="json").json()["id"]
    run_handlers()
    question = Question.objects.get(pk=question_id)
    assert question.status == "handed_to_staff"
    return question


@pytest.mark.django_db(transaction=True)
def test_staff_see_questions_by_status_with_the_prompt_sent(admin_client, handed_over):
    changelist = reverse("admin:support_question_changelist")

    listed = admin_client.get(changelist, {"status__exact": "handed_to_staff"}).context["cl"].result_list
    assert [q.pk for q in listed] == [handed_over.pk]
    assert not admin_client.get(changelist, {"status__exact": "answered"}).context["cl"].result_list

    page = admin_client.get(reverse("admin:support_question_change", args=[handed_over.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert "Do you sell gift cards?" in content
    assert "[system]" in content  # the prompt that was sent
    assert reverse("admin:support_question_answer", args=[handed_over.pk]) in content
    # Every admin page says a question waits for a person.
    front = admin_client.get(reverse("admin:index")).content.decode()
    assert "1 support question waits for staff to answer" in front


@pytest.mark.django_db(transaction=True)
def test_staff_answer_a_handed_over_question_by_hand_and_the_customer_is_told(
    admin_client, handed_over, shopper_client, run_handlers
):
    url = reverse("admin:support_question_answer", args=[handed_over.pk])
    assert admin_client.get(url).status_code == 200

    response = admin_client.post(url, {"answer": "Yes: gift cards from 10 EUR, in the shop."})
    run_handlers()

    assert response.status_code == 302
    answered = shopper_client.get(f"{QUESTIONS}/{handed_over.pk}").json()
    assert answered["status"] == "answered"
    assert answered["answer"] == "Yes: gift cards from 10 EUR, in the shop."
    event = Event.objects.get(type="support.question_answered")
    assert (event.payload["provider"], event.payload["prompt_tokens"]) == ("staff", 0)
    assert Question.objects.get(pk=handed_over.pk).answered_by == "admin"
    notification = Notification.objects.get(kind="support_answered")
    assert "gift cards from 10 EUR" in notification.body
    # A second answer is refused: the question is answered once.
    again = admin_client.post(url, {"answer": "Something else."}, follow=True)
    assert "already answered" in again.content.decode()
    assert Event.objects.filter(type="support.question_answered").count() == 1


@pytest.mark.django_db
def test_staff_cannot_answer_with_nothing(handed_over_db):
    with pytest.raises(services.SupportError):
        services.answer_by_hand(question_id=handed_over_db.pk, answer="   ", by="admin")
    assert Question.objects.get(pk=handed_over_db.pk).status == "asked"


@pytest.fixture
def handed_over_db(shopper):
    return services.ask(customer=shopper.customer, question="Hello?")


@pytest.mark.django_db
def test_staff_without_the_change_permission_cannot_answer(client, handed_over_db):
    from django.contrib.auth.models import Permission

    from tests.factories import StaffUserFactory

    viewer = StaffUserFactory()
    viewer.user_permissions.add(Permission.objects.get(codename="view_question"))
    client.force_login(viewer)

    assert (
        client.post(reverse("admin:support_question_answer", args=[handed_over_db.pk]), {"answer": "x"}).status_code
        == 403
    )
    assert Question.objects.get(pk=handed_over_db.pk).status == "asked"


@pytest.mark.django_db(transaction=True)
def test_metrics_show_questions_by_status_and_calls_latency_and_tokens_per_provider(
    client, shopper, shopper_client, mug, run_handlers
):
    order = place_order(shopper.customer, {mug: 1})
    run_handlers()
    for question in ("Where is my order?", "Why was it cancelled?"):
        shopper_client.post(QUESTIONS, {"question": question, "order": order.pk}, format="json")
    shopper_client.post(QUESTIONS, {"question": "Gift cards?"}, format="json")
    run_handlers()
    rows = Question.objects.filter(called_at__isnull=False)

    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").content.decode())
        for sample in family.samples
    }

    assert samples[("orderflow_support_questions", frozenset({("status", "answered")}))] == 2
    assert samples[("orderflow_support_questions", frozenset({("status", "handed_to_staff")}))] == 1
    assert samples[("orderflow_support_model_calls_total", frozenset({("provider", "sandbox")}))] == 3
    prompt_tokens = sum(q.prompt_tokens for q in rows)
    assert samples[
        ("orderflow_support_model_tokens_total", frozenset({("provider", "sandbox"), ("kind", "prompt")}))
    ] == (prompt_tokens)
    latency = sum(q.latency_ms for q in rows) / 1000
    assert samples[("orderflow_support_model_latency_seconds_total", frozenset({("provider", "sandbox")}))] == (
        pytest.approx(latency)
    )


@pytest.mark.django_db(transaction=True)
def test_staff_close_a_question_without_an_answer_and_it_ends_failed(admin_client, handed_over, shopper_client):
    changelist = reverse("admin:support_question_changelist")

    response = admin_client.post(
        changelist, {"action": "close_unanswered", "_selected_action": [handed_over.pk]}, follow=True
    )

    assert "Closed 1 question(s)" in response.content.decode()
    assert shopper_client.get(f"{QUESTIONS}/{handed_over.pk}").json()["status"] == "failed"
    assert Event.objects.filter(type="support.question_closed").count() == 1
    # Closed is final: neither a second close nor an answer by hand changes it.
    assert not services.close_unanswered(question_id=handed_over.pk, by="admin")
    with pytest.raises(services.QuestionNotOpen):
        services.answer_by_hand(question_id=handed_over.pk, answer="late", by="admin")
