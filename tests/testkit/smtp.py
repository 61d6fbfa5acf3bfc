"""An SMTP server's handler that keeps every message (``SmtpSink``) and the messages it
keeps (``Mail``). ``running_stack`` serves one with aiosmtpd for the processes it starts;
tests read it through ``Stack.smtp`` and ``Api.mails``."""

import email
import email.message
import email.policy
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: email.message.EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()


class SmtpSink:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mails: list[Mail] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self._mails.append(Mail(envelope.mail_from, tuple(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Mail]:
        with self._lock:
            return [m for m in self._mails if address in m.rcpt_tos]

    def all(self) -> list[Mail]:
        with self._lock:
            return list(self._mails)
