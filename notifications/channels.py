"""Delivery channels of the outbox: e-mail through Django's e-mail backend, SMS through a provider.

`SmsProvider` is the interface a real SMS gateway implements; `settings.LOANOPS_SMS_PROVIDER` names the
class in use (dotted path). The default, `LoggingSmsProvider`, writes each message to the log (phone
number masked) and keeps the most recent ones in memory, like Django's locmem e-mail backend.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import ClassVar, Protocol, runtime_checkable

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils import timezone
from django.utils.module_loading import import_string

from compliance.pii import mask_phone

logger = logging.getLogger(__name__)

DEFAULT_SMS_PROVIDER = "notifications.channels.LoggingSmsProvider"


class DeliveryError(Exception):
    """A channel refused or could not deliver a message; the relay retries it later."""


@runtime_checkable
class SmsProvider(Protocol):
    """Send one text message; return the provider's message id. Raise on failure (the relay retries)."""

    def send(self, *, phone: str, text: str) -> str: ...


@dataclass(frozen=True)
class SentSms:
    phone: str
    text: str
    reference: str
    sent_at: datetime


class LoggingSmsProvider:
    """The embedded default: logs the message and records it in `LoggingSmsProvider.sent` (newest last)."""

    sent: ClassVar[deque[SentSms]] = deque(maxlen=1000)
    _ids: ClassVar[itertools.count[int]] = itertools.count(1)

    def send(self, *, phone: str, text: str) -> str:
        if not phone:
            raise DeliveryError("缺少手机号")
        reference = f"log-{next(self._ids)}"
        self.sent.append(SentSms(phone=phone, text=text, reference=reference, sent_at=timezone.now()))
        logger.info("SMS %s to %s: %s", reference, mask_phone(phone), text)
        return reference


@cache
def _provider_class(path: str) -> type:
    return import_string(path)  # type: ignore[no-any-return]


def sms_provider() -> SmsProvider:
    provider: SmsProvider = _provider_class(getattr(settings, "LOANOPS_SMS_PROVIDER", DEFAULT_SMS_PROVIDER))()
    return provider


class EmailChannel:
    """One backend connection for a relay batch; each message is sent (and may fail) on its own."""

    def __init__(self) -> None:
        self.connection = get_connection(fail_silently=False)

    def send(self, *, to: str, subject: str, body: str) -> None:
        if not to:
            raise DeliveryError("缺少电子邮箱")
        message = EmailMessage(subject=subject, body=body, to=[to], connection=self.connection)
        if message.send() != 1:
            raise DeliveryError("邮件未被接收")

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:  # closing a broken SMTP connection must not hide the batch's results
            logger.exception("Could not close the e-mail connection")
