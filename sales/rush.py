"""The rush path: the three requests a flash sale's rush is made of, answered by a plain WSGI
callable in front of Django.

In a rush nearly every request is a purchase, a ticket poll or the sale's live state
(`POST /api/v1/sales/{id}/purchase`, `GET /api/v1/tickets/{ticket}`,
`GET /sales/{id}/live.json`). Through Django and DRF each of them pays for ten middlewares,
URL resolving, content negotiation, a serializer and a renderer, about four times what the
purchase itself costs (one Redis call). `RushPath` answers them with the same services, the
same token check (simplejwt's own classes), the same body parser, the same exception handler
(`core.error_handling.api_exception_handler`) and the headers Django's middleware would add.

It only takes what it is sure to answer exactly as Django would, and hands everything else to
Django untouched, before anything was decided: another method, a query string, a host not in
ALLOWED_HOSTS, an HTTPS redirect due, a missing or bad token, a body that is not plain JSON or
does not validate, a bad Idempotency-Key. Those are rare in a rush and their answers (401,
400, 405, 301...) stay Django's own. Once the gate has been asked, the answer is always this
path's, so a purchase is never decided twice. `RUSH_PATH=false` turns it off;
sales/tests/test_rush.py runs every case through both and compares the answers.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable
from functools import partial
from http import HTTPStatus

from django.conf import settings
from django.core import signals
from django.http import HttpResponse
from django.http.request import split_domain_port, validate_host
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from core.error_handling import api_exception_handler
from core.errors import DomainError
from core.http import PLAIN_JSON, device_of, idempotency_key_of, json_parse
from sales import services
from sales.api.serializers import purchase_input
from sales.gate.admission import Purchase
from sales.rush_token import access_token_user
from sales.web.sale_pages import live_response

PURCHASE = re.compile(r"/api/v1/sales/([0-9]+)/purchase")
TICKET = re.compile(r"/api/v1/tickets/([^/]+)")
LIVE = re.compile(r"/sales/([0-9]+)/live\.json")

StartResponse = Callable[..., object]


class Environ:
    """A bare WSGI environ where the request helpers of `core.http` expect a request: they
    read nothing but `.META`, and Django's own META is the environ too."""

    __slots__ = ("META",)

    def __init__(self, environ: dict) -> None:
        self.META = environ


class Handoff(Exception):
    """Not this path's to answer: Django answers instead (nothing was decided yet)."""


_authenticator = JWTStatelessUserAuthentication()


def user_id_from(environ: dict) -> int:
    """The token's user id exactly as the API's authentication reads it, or Handoff (Django
    then answers the 401 with its own WWW-Authenticate).

    A token as this store issues it is checked by `access_token_user` (a tenth of the cost);
    any other is left to simplejwt's own classes, which decide as they always do."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if len(parts) == 2 and parts[0] == "Bearer":
        user_id = access_token_user(parts[1])
        if user_id is not None:
            return user_id
    raw = _authenticator.get_raw_token(header.encode("iso-8859-1")) if header else None
    if raw is None:
        raise Handoff
    try:
        user = _authenticator.get_user(_authenticator.get_validated_token(raw))
        return int(user.id)
    except (InvalidToken, TokenError, TypeError, ValueError):
        raise Handoff from None


def _body(environ: dict) -> bytes:
    """The request body when it is plain JSON of a declared, allowed size; else Handoff."""
    if environ.get("CONTENT_TYPE", "").lower() not in PLAIN_JSON:
        raise Handoff
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Handoff from None
    if length < 0 or length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise Handoff
    body = environ["wsgi.input"].read(length) if length else b""
    # Put it back, so that a handoff gives Django the request as it came.
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _accepts_json(environ: dict) -> bool:
    """DRF's content negotiation would pick the JSON renderer as is: no Accept, or one that
    names JSON or anything without parameters (`application/json; indent=4` changes the
    rendering, `text/html` alone is a 406: both are Django's to answer)."""
    accept = environ.get("HTTP_ACCEPT")
    if not accept:
        return True
    types = [part.strip() for part in accept.split(",")]
    return all(";" not in t for t in types) and any(
        t in ("*/*", "application/*", "application/json") for t in types)


def _secure(environ: dict) -> bool:
    """HttpRequest.is_secure(), from the environ."""
    header = settings.SECURE_PROXY_SSL_HEADER
    if header:
        name, value = header
        forwarded = environ.get(name)
        if forwarded is not None:
            return forwarded.split(",", 1)[0].strip() == value
    return environ.get("wsgi.url_scheme") == "https"


def _host_allowed(environ: dict) -> bool:
    """HttpRequest.get_host()'s check, without its exception: Django answers a bad host."""
    if settings.USE_X_FORWARDED_HOST or settings.USE_X_FORWARDED_PORT:
        return False
    host = environ.get("HTTP_HOST")
    if not host:
        return False
    domain, _ = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


def _middleware_headers(secure: bool, *, frame: bool = True) -> list[tuple[str, str]]:
    """What SecurityMiddleware and XFrameOptionsMiddleware add to every response here."""
    headers = []
    if settings.SECURE_HSTS_SECONDS and secure:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append(("Strict-Transport-Security", value))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        if not isinstance(policy, str):
            policy = ",".join(policy)
        headers.append(("Referrer-Policy", policy))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy",
                        settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    if frame:
        headers.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
    return headers


def _json(status: int, body: dict) -> HttpResponse:
    """DRF's JSONRenderer's bytes: compact, UTF-8, no NaN."""
    content = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return HttpResponse(content.encode(), status=status, content_type="application/json")


def purchase(environ: dict, sale_id: int) -> HttpResponse:
    """SalePurchaseApi.post on the gate strategy."""
    user_id = user_id_from(environ)
    try:
        body = _body(environ)
        data = purchase_input(json_parse(body) if body else {})
        request = Environ(environ)
        bought = Purchase.of_request(request, sale_id=sale_id, user_id=user_id, data=data,
                                     idempotency_key=idempotency_key_of(request),
                                     device=device_of(request))
    except Exception:  # noqa: BLE001 - a malformed request is Django's to answer, as always
        raise Handoff from None
    admission = services.purchase_admit(purchase=bought)
    return _json(202, {"ticket": admission.ticket, "status": "queued",
                       "position": admission.position})


def ticket(environ: dict, ticket_id: str) -> HttpResponse:
    """TicketApi.get, TicketOutput's representation."""
    found = services.ticket_resolve(ticket=ticket_id, user_id=user_id_from(environ))
    return _json(200, {
        "ticket": str(found.ticket), "status": str(found.status),
        "position": None if found.position is None else int(found.position),
        "order": None if found.order is None else int(found.order),
        "reason": None if found.reason is None else str(found.reason)})


ROUTES = (("POST", PURCHASE, purchase, int, "POST, OPTIONS"),
          ("GET", TICKET, ticket, str, "GET, HEAD, OPTIONS"))


class RushPath:
    """WSGI middleware: the rush's requests here, everything else to `app` (Django)."""

    def __init__(self, app: Callable[[dict, StartResponse], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if (not settings.RUSH_PATH or environ.get("QUERY_STRING")
                or settings.PURCHASE_STRATEGY != "gate"):
            return self.app(environ, start_response)
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        secure = _secure(environ)
        if settings.SECURE_SSL_REDIRECT and not secure:
            return self.app(environ, start_response)
        if method == "GET" and (match := LIVE.fullmatch(path)) and _host_allowed(environ):
            return self._answer(environ, start_response, lambda: live_response(
                int(match.group(1))), secure=secure, api=False)
        for route_method, pattern, view, convert, allow in ROUTES:
            if method == route_method and (match := pattern.fullmatch(path)):
                if not (_host_allowed(environ) and _accepts_json(environ)):
                    break
                arg = convert(match.group(1))
                try:
                    return self._answer(environ, start_response, partial(view, environ, arg),
                                        secure=secure, api=True, allow=allow)
                except Handoff:
                    break
        return self.app(environ, start_response)

    def _answer(self, environ: dict, start_response: StartResponse, build, *, secure: bool,
                api: bool, allow: str = "") -> Iterable[bytes]:
        """Run `build` between Django's request signals (the database connections are
        looked after as for any request) and send its response, errors as the API's
        exception handler makes them."""
        signals.request_started.send(sender=RushPath, environ=environ)
        try:
            try:
                response = build()
            except Handoff:
                raise
            except Exception as error:  # noqa: BLE001 - every error is the API's envelope
                if not api and not isinstance(error, DomainError):
                    raise Handoff from None
                response = api_exception_handler(error, {})
        finally:
            signals.request_finished.send(sender=RushPath)
        headers = [(name, value) for name, value in response.items()]
        if api:
            headers.append(("Allow", allow))
        headers.extend(_middleware_headers(secure))
        headers.append(("Content-Length", str(len(response.content))))
        status = f"{response.status_code} {HTTPStatus(response.status_code).phrase}"
        start_response(status, headers)
        return [response.content]
