"""Sending email over a connection kept open between messages.

``EmailMessage.send()`` opens a connection to the SMTP server for every message (TCP,
greeting, EHLO, maybe STARTTLS and AUTH, then QUIT): most of the conversation, for a
one-message send. A worker sends a stream of them, so each thread keeps one connection
open and reuses it. A connection the server closed meanwhile (an idle timeout, a
restart) is found out at the next send, which is made again on a fresh connection,
once; any other failure is the caller's, and its handler retries.
"""

import contextlib
import smtplib
import threading

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

_local = threading.local()


def send(message: EmailMessage) -> None:
    """Send ``message``; raise if the server does not take it. After any failure the
    connection is dropped: the next message starts on a fresh one."""
    for last_try in (False, True):
        try:
            _connection().send_messages([message])
            return
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            close()
            if last_try:
                raise
        except Exception:
            close()
            raise


def _connection():
    """This thread's open connection, for the backend configured now."""
    config = (settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT)
    if getattr(_local, "config", None) != config:
        close()
    if getattr(_local, "connection", None) is None:
        connection = get_connection(fail_silently=False)
        connection.open()
        _local.connection, _local.config = connection, config
    return _local.connection


def close() -> None:
    """Close this thread's connection (the next send opens a new one)."""
    connection = getattr(_local, "connection", None)
    _local.connection = _local.config = None
    if connection is not None:
        with contextlib.suppress(smtplib.SMTPException, OSError):  # already gone: nothing to tidy
            connection.close()
