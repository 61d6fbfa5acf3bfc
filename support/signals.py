"""The events the support desk publishes.

A question's events belong to the order's timeline when it names an order (stream
``order:<id>``): the customer and staff then see it where they already look, the
order's events API and the admin's timeline, with no second place to merge. A question
about no order has a stream of its own (``question:<id>``). None of them is public
(``events.public``): a customer's question is not an integration event.
"""

from events.types import EventType, Payload
from orders.signals import stream_of as order_stream


class QuestionEventType(EventType):
    """An event about a question: on its order's stream when it names one."""

    def __init__(self, name: str, payload: type[Payload], *, doc: str = "", **kwargs) -> None:
        doc += " On its order's stream (order:<order_id>) when the question names an order."
        super().__init__(name, payload, stream="question", doc=doc.strip(), **kwargs)

    def stream_of(self, data: Payload) -> str:
        order_id = getattr(data, "order_id", None)
        if order_id is not None:
            return order_stream(order_id)
        return super().stream_of(data)


class QuestionAsked(Payload):
    question_id: int
    customer_id: int
    order_id: int | None
    question: str


class QuestionAnswered(Payload):
    question_id: int
    customer_id: int
    order_id: int | None
    answer: str
    provider: str  # "sandbox", "openai", or "staff" for an answer given by hand
    model: str
    latency_ms: int
    prompt_tokens: int
    completion_tokens: int


class QuestionHandedOver(Payload):
    question_id: int
    customer_id: int
    order_id: int | None
    reason: str


class QuestionClosed(Payload):
    question_id: int
    customer_id: int
    order_id: int | None
    reason: str


# Operational figures stay with staff: the customer sees the answer, not its cost.
_OPERATIONAL = ("provider", "model", "latency_ms", "prompt_tokens", "completion_tokens")

question_asked = QuestionEventType(
    "support.question_asked", QuestionAsked, doc="A customer asked the support desk a question."
)
question_answered = QuestionEventType(
    "support.question_answered",
    QuestionAnswered,
    private=_OPERATIONAL,
    doc="A question was answered, by the model or by staff.",
)
question_handed_over = QuestionEventType(
    "support.question_handed_over",
    QuestionHandedOver,
    doc="A question was handed to staff (the model could not answer it, the budget was spent, or it failed).",
)
question_closed = QuestionEventType(
    "support.question_closed",
    QuestionClosed,
    doc="Staff closed a question without an answer (status failed): e.g. spam, or nothing to answer.",
)
