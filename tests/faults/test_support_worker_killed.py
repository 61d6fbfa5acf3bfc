"""The worker answering a support question is SIGKILLed while the model is still
thinking: the question is answered once all the same (one answer event, one
notification, one email), and the model was asked again under the same
Idempotency-Key, so a server that de-duplicates would have answered once too."""

import pytest

from audit.invariants import check_invariants
from events.models import Event
from notifications.models import Notification
from support.models import Question
from tests.support.model_server import ModelServer, Reply
from tests.testkit.stack import settled

from .scenario import RECOVERY

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_model_call_answers_the_question_once(shop):
    stack, api = shop.stack, shop.api
    with ModelServer() as model:
        # The first call hangs (the worker is killed meanwhile); every later one answers.
        model.script = [Reply(delay=60.0, answer="never delivered")]
        model.default = Reply(answer="Your order is paid and being prepared.")
        stack.restart(
            "worker",
            kill=True,
            env={"LLM_PROVIDER": "openai", "LLM_BASE_URL": model.base_url, "LLM_MODEL": "fault-model"},
        )
        order = api.place_order({"MUG-01": 1})
        api.wait_status(order["id"], "paid")

        asked = api.post("support/questions", {"question": "Where is my order?", "order": order["id"]}, 201)
        stack.wait_for(lambda: len(model.seen) >= 1, "the worker to call the model")
        stack.restart("worker", kill=True)  # mid-call: the model has not answered
        shop.say("worker killed while the model was answering")

        answered = stack.wait_for(
            lambda: (q := api.get(f"support/questions/{asked['id']}"))["status"] == "answered" and q,
            "the question to be answered after the kill",
            timeout=RECOVERY,
        )
        stack.wait_for(settled, "no work in flight", timeout=RECOVERY)

    assert answered["answer"] == "Your order is paid and being prepared."
    asked_event = Event.objects.get(type="support.question_asked")
    assert len(model.seen) >= 2
    assert {seen.headers["idempotency-key"] for seen in model.seen} == {str(asked_event.key)}
    assert Event.objects.filter(type="support.question_answered").count() == 1
    assert Question.objects.get(pk=asked["id"]).model == "fault-model"
    assert Notification.objects.filter(kind="support_answered").count() == 1
    mails = [m for m in api.mails() if "question" in m.subject]
    assert len(mails) == 1
    assert check_invariants() == []
