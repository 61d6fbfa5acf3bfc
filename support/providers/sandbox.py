"""The sandbox provider: no network, no model. It answers the questions shops get most
(where is my order, why was it cancelled, when will I be refunded, how many points do
I have) from the prompt's structured facts, deterministically, and hands anything else
to staff, saying so. Token counts are estimated (four characters a token) so that the
budget works the same as with a model."""

from orders.selectors import OrderStatus
from orders.signals import CancelReason

from ..prompts import CANCEL_REASONS
from . import Completion, Prompt

HANDOFF = (
    "I can't answer that from your account's facts, so I have passed your question to our staff; "
    "they will answer you here."
)


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class SandboxProvider:
    name = "sandbox"
    model = "sandbox-rules-1"

    def complete(self, prompt: Prompt, *, request_id: str) -> Completion:
        text, handoff = answer(prompt.question, prompt.facts)
        return Completion(
            text=text,
            model=self.model,
            prompt_tokens=_tokens(prompt.as_text()),
            completion_tokens=_tokens(text),
            handoff=handoff,
        )


def answer(question: str, facts: dict) -> tuple[str, bool]:
    """(the answer, whether staff must take over)."""
    asked = question.lower()
    order = facts.get("order")
    if "point" in asked:
        return f"You have {facts.get('points', 0)} loyalty points.", False
    if order is None:
        return HANDOFF, True
    if "refund" in asked or "money back" in asked:
        return _refund(order), False
    if "cancel" in asked:
        return _cancellation(order), False
    if any(word in asked for word in ("where", "status", "when", "arrive", "deliver", "ship", "track")):
        return _status(order), False
    return HANDOFF, True


def _events(order: dict, type_name: str) -> list[dict]:
    return [e["data"] for e in order.get("timeline", []) if e["type"] == type_name]


def _why_cancelled(order: dict) -> str:
    cancelled = _events(order, "order.cancelled")
    reason = cancelled[-1]["reason"] if cancelled else ""
    why = CANCEL_REASONS.get(reason, reason or "for a reason we did not record")
    declined = _events(order, "payment.failed")
    if reason == CancelReason.PAYMENT_DECLINED and declined:
        why += f" (the bank's answer: {declined[-1]['reason']})"
    return why


def _status(order: dict) -> str:
    n, status = order["id"], order["status"]
    if order.get("assumed_most_recent"):
        return f"Your most recent order is #{n}. " + _status({**order, "assumed_most_recent": False})
    if status == OrderStatus.PENDING:
        return f"Order #{n} was placed and is waiting for its payment to be confirmed."
    if status == OrderStatus.PAID:
        return f"Order #{n} is paid and confirmed ({order['total']} {order['currency']}); it is being prepared."
    if status == OrderStatus.CANCELLED:
        return f"Order #{n} was cancelled: {_why_cancelled(order)}."
    return f"Order #{n} is {status}."


def _cancellation(order: dict) -> str:
    n = order["id"]
    if order["status"] != OrderStatus.CANCELLED:
        return f"Order #{n} is not cancelled: it is {order['status']}."
    return f"Order #{n} was cancelled: {_why_cancelled(order)}."


def _refund(order: dict) -> str:
    n = order["id"]
    refunds = _events(order, "payment.refunded")
    if refunds:
        refund = refunds[-1]
        return (
            f"The payment of order #{n} was refunded ({refund['amount']} {refund['currency']}); "
            "depending on your bank it reaches your account within 5 to 10 working days."
        )
    if order["status"] == OrderStatus.CANCELLED:
        if _events(order, "payment.captured"):
            return f"Order #{n} was cancelled after it was paid; its refund is under way."
        why = _why_cancelled(order)
        return f"Order #{n} was cancelled ({why}) and no money was taken, so there is nothing to refund."
    if order["status"] == OrderStatus.PAID:
        return f"Order #{n} is paid and not cancelled, so no refund is due."
    return f"Order #{n} is waiting for its payment; nothing has been charged."
