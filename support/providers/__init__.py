"""The language-model providers behind one interface, chosen by the ``LLM_PROVIDER``
setting (like the payment gateway): ``sandbox`` (the default: no network, deterministic
answers from the facts) or ``openai`` (any OpenAI-compatible chat-completions server).

A provider is given the prompt and the request's idempotency key and returns a
``Completion``, or raises ``ProviderError``. It has no tools and its answer is text
only: nothing in it is ever executed or changes any state.
"""

from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

PROVIDERS = {
    "sandbox": "support.providers.sandbox.SandboxProvider",
    "openai": "support.providers.openai_compatible.OpenAICompatibleProvider",
}


@dataclass(frozen=True)
class Prompt:
    """What the provider is asked: the system message, the user message (the facts and
    the question, as JSON), and the same facts structured (for the sandbox)."""

    system: str
    user: str
    facts: dict = field(default_factory=dict)
    question: str = ""

    def as_text(self) -> str:
        return f"[system]\n{self.system}\n\n[user]\n{self.user}"


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    # The provider says it cannot answer from the facts: staff must.
    handoff: bool = False


class ProviderError(Exception):
    """The call failed. ``retry_after``: seconds the provider asked us to wait (a 429's
    ``Retry-After``), honoured by the handler machinery as the next retry's delay.
    ``permanent``: retrying cannot help (e.g. the request was refused as invalid)."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Provider(Protocol):
    name: str

    def complete(self, prompt: Prompt, *, request_id: str) -> Completion:
        """Answer ``prompt``; ``request_id`` is the same on every retry of one question."""


@cache
def get_provider() -> Provider:
    name = settings.LLM_PROVIDER
    return import_string(PROVIDERS.get(name, name))()
