"""Helpers for the rush path's tests (test_rush, test_rush_token, test_rush_attacks): twin
worlds, WSGI environs as a server hands them over, answers made comparable, and what
simplejwt itself makes of a token."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken

from sales import services
from sales.gate.admission import Purchase
from sales.pipeline import orders as pipeline
from shop.models import Sku


@dataclass
class Answer:
    status: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body) if self.body else None


class Counting:
    """Django's WSGI application, counting what the rush path handed to it."""

    def __init__(self) -> None:
        self.app, self.calls = WSGIHandler(), 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.app(environ, start_response)


def call(app, environ: dict) -> Answer:
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, headers

    chunks = app(environ, start_response)
    body = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return Answer(seen["status"], {k.lower(): v for k, v in seen["headers"]}, body)


@dataclass
class World:
    """One copy of a case's state: its own sales and buyers, built the same way each time."""

    now: object
    make_customer: object
    sku: Sku
    made: list = field(default_factory=list)
    sales: list = field(default_factory=list)

    def sale(self, *, stock: int = 10, limit: int = 1, starts_in: float = -60,
             lasts: float = 3600, load: bool = True, **extra):
        """A sale timed from the world's clock (twin worlds' sales are the same sale)."""
        sale = services.sale_create(
            sku=self.sku, title="Mi 6 launch", price=Decimal("1999.00"), stock=stock,
            per_user_limit=limit, starts_at=self.now + timedelta(seconds=starts_in),
            ends_at=self.now + timedelta(seconds=starts_in + lasts), **extra)
        if load:
            services.gate_load(sale_id=sale.pk)
        self.sales.append(sale.pk)
        return sale

    def buyer(self):
        self.made.append(self.make_customer().user)
        return self.made[-1]

    def admit(self, sale, user, **extra):
        return services.purchase_admit(purchase=Purchase(
            sale_id=sale.pk, user_id=user.pk, **extra))


def bearer(user) -> str:
    return f"Bearer {AccessToken.for_user(user)}"


def request(method: str, path: str, *, body=None, content_type="application/json",
            **headers) -> dict:
    """A WSGI environ as a server hands it over (Host included)."""
    factory = RequestFactory()
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    environ = factory.generic(method, path, data=data, content_type=content_type,
                              HTTP_HOST="testserver", **headers).environ
    environ["wsgi.input"] = io.BytesIO(data)
    if content_type:  # as a client sends it, also with an empty body
        environ.update(CONTENT_TYPE=content_type, CONTENT_LENGTH=str(len(data)))
    return environ


def purchase(world: World, sale, user=None, body=None, **headers) -> dict:
    user = user or world.buyer()
    headers.setdefault("HTTP_AUTHORIZATION", bearer(user))
    return request("POST", f"/api/v1/sales/{sale.pk}/purchase",
                   body={"quantity": 1} if body is None else body, **headers)


def _ticket(world: World, settle: bool):
    sale, user = world.sale(), world.buyer()
    admitted = world.admit(sale, user)
    if settle:
        pipeline.drain(sale_id=sale.pk)
    return request("GET", f"/api/v1/tickets/{admitted.ticket}", HTTP_AUTHORIZATION=bearer(user))


VOLATILE = {"ticket", "order", "server_time", "server_ms"}


def _normal(value):
    """The answer without what differs between twin worlds by nature: ticket ids, order
    ids, the clock."""
    if isinstance(value, dict):
        return {k: ("<volatile>" if k in VOLATILE and v is not None else _normal(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _comparable(answer: Answer, world: World) -> tuple:
    """Status, headers and body, with the world's own sale ids written as <sale>."""
    def own(text: str) -> str:
        for pk in world.sales:
            text = text.replace(f"/sales/{pk}/", "/sales/<sale>/")
        return text

    headers = {name: own(value) for name, value in answer.headers.items()}
    assert headers.pop("content-length", str(len(answer.body))) == str(len(answer.body))
    try:
        body = _normal(json.loads(own(answer.body.decode()))) if answer.body else None
    except ValueError:
        body = own(answer.body.decode())
    return answer.status, headers, body


_auth = JWTStatelessUserAuthentication()


def simplejwt_user(token: str) -> int | None:
    """What the API's authentication makes of the token: the user id, or None (refused)."""
    try:
        return int(_auth.get_user(_auth.get_validated_token(token.encode())).id)
    except (InvalidToken, TokenError, TypeError, ValueError):
        return None
