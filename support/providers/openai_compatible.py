"""Any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM, llama.cpp...),
through the official ``openai`` client library.

The library's own retries are off: the handler machinery retries, with backoff, under
the run's attempt count, and honours a 429's ``Retry-After`` (``ProviderError``). The
event's key goes with every attempt as ``Idempotency-Key`` and ``X-Client-Request-Id``,
so a server that de-duplicates requests answers a retried call once, and its logs
name the question's event.
"""

import openai
from django.conf import settings

from . import Completion, Prompt, ProviderError


class OpenAICompatibleProvider:
    name = "openai"

    def __init__(self) -> None:
        self.model = settings.LLM_MODEL
        self.client = openai.OpenAI(
            base_url=settings.LLM_BASE_URL,
            # Local servers want no key, but the library insists on one.
            api_key=settings.LLM_API_KEY or "none",
            timeout=settings.LLM_TIMEOUT,
            max_retries=0,
        )

    def complete(self, prompt: Prompt, *, request_id: str) -> Completion:
        try:
            response = self.client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": prompt.system},
                    {"role": "user", "content": prompt.user},
                ],
                max_tokens=settings.LLM_MAX_ANSWER_TOKENS,
                temperature=0.2,
                extra_headers={"Idempotency-Key": request_id, "X-Client-Request-Id": request_id},
            )
        except openai.APIStatusError as exc:
            status = exc.status_code
            retry_after = _retry_after(exc.response.headers.get("retry-after")) if status == 429 else None
            # 4xx other than 408/409/429 will not change on a retry (a bad key, an unknown model).
            permanent = 400 <= status < 500 and status not in (408, 409, 429)
            raise ProviderError(
                f"HTTP {status} from the model server", retry_after=retry_after, permanent=permanent
            ) from exc
        except openai.APITimeoutError as exc:
            raise ProviderError(f"no answer within {settings.LLM_TIMEOUT:g} s") from exc
        except (openai.OpenAIError, ValueError) as exc:  # connection refused; a body that is not JSON
            raise ProviderError(f"{type(exc).__name__}: {exc}") from exc
        return _completion(response, self.model)


def _completion(response, model: str) -> Completion:
    choices = getattr(response, "choices", None)
    message = choices[0].message if choices else None
    text = (getattr(message, "content", None) or "").strip() if message is not None else ""
    if not isinstance(text, str) or not text:
        raise ProviderError("malformed answer: no message content in the first choice")
    usage = getattr(response, "usage", None)
    return Completion(
        text=text,
        model=str(getattr(response, "model", None) or model),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds; an HTTP date is rare from
    model servers and is left to the backoff)."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None
