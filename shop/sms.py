"""Sending text messages through a pluggable backend, as Django sends mail.

`settings.SMS_BACKEND` is the dotted path of a class with `send(*, phone, message)`; a real
provider's adapter is one more such class (a dotted path, like EMAIL_BACKEND, so that a
deployment can plug one in without editing the store). The ones here:

- `ConsoleBackend` (development default): logs each message on the `shop.sms` logger.
- `MemoryBackend` (the tests): appends each message to the module-level `outbox`, a list of
  `Sms`, as Django's `mail.outbox`; read it with `shop.sms.outbox` or `last_to(phone)`.
- `RedisBackend` (the replay): pushes each message onto a Redis list per phone that lives
  ten minutes, so a process other than the web server (a Locust worker) can read the code
  the server sent: `RedisBackend.read(phone)` or `LRANGE sms:outbox:<phone> 0 0`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from core.redis_client import connection

log = logging.getLogger("shop.sms")


@dataclass(frozen=True)
class Sms:
    phone: str
    message: str


class SmsBackend(Protocol):
    def send(self, *, phone: str, message: str) -> None: ...


class ConsoleBackend:
    """Development: the message goes to the log, where whoever registers can read the code."""

    def send(self, *, phone: str, message: str) -> None:
        log.info("SMS to %s: %s", phone, message)


outbox: list[Sms] = []


class MemoryBackend:
    """Tests: every message in this process's `outbox` (emptied by the tests' fixture)."""

    def send(self, *, phone: str, message: str) -> None:
        outbox.append(Sms(phone=phone, message=message))


def last_to(phone: str) -> Sms | None:
    """The last message `MemoryBackend` sent to `phone` in this process."""
    return next((sms for sms in reversed(outbox) if sms.phone == phone), None)


class RedisBackend:
    """The replay: messages readable from any process that reaches the store's Redis."""

    TTL_SECONDS = 600
    KEEP = 5

    @staticmethod
    def key(phone: str) -> str:
        return f"sms:outbox:{phone}"

    def send(self, *, phone: str, message: str) -> None:
        body = json.dumps({"phone": phone, "message": message})
        with connection().pipeline(transaction=False) as pipe:
            pipe.lpush(self.key(phone), body)
            pipe.ltrim(self.key(phone), 0, self.KEEP - 1)
            pipe.expire(self.key(phone), self.TTL_SECONDS)
            pipe.execute()

    @classmethod
    def read(cls, phone: str) -> Sms | None:
        """The last message sent to `phone`, or None."""
        raw = connection().lindex(cls.key(phone), 0)
        return Sms(**json.loads(raw)) if raw else None


def backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()
