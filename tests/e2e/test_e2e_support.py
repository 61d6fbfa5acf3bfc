"""The support desk end to end: a customer asks over HTTP, the real worker answers with
the sandbox provider (no network), and the answer arrives in the app and by email."""

import pytest

from events.models import Event
from tests.testkit.stack import settled

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_customer_asks_where_their_order_is_and_gets_an_answer(e2e):
    order = e2e.place_order({"MUG-01": 1})
    e2e.wait_status(order["id"], "paid")
    e2e.stack.wait_for(lambda: settled(f"order:{order['id']}"), "the order's events to be handled")

    # As a customer would type it: the order is named in the text only.
    asked = e2e.post("support/questions", {"question": f"Where is my order {order['id']}?"}, 201)
    assert asked["status"] == "asked"
    assert asked["order"] == order["id"]

    answered = e2e.stack.wait_for(
        lambda: (q := e2e.get(f"support/questions/{asked['id']}"))["status"] == "answered" and q,
        "the question to be answered",
    )
    assert f"Order #{order['id']} is paid" in answered["answer"]
    note = e2e.stack.wait_for(
        lambda: next((n for n in e2e.notifications() if n["kind"] == "support_answered"), None),
        "the answer's notification",
    )
    assert answered["answer"] in note["body"]
    assert note["order"] == order["id"]
    mail = e2e.stack.wait_for(
        lambda: next((m for m in e2e.mails() if "question" in m.subject), None), "the answer's email"
    )
    assert answered["answer"] in mail.body
    assert e2e.timeline(order["id"])[-2:] == ["support.question_asked", "support.question_answered"]
    assert Event.objects.get(type="support.question_answered").payload["provider"] == "sandbox"
