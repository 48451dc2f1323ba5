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
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpResponse
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import settings as simplejwt_settings
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from core.error_handling import UNAVAILABLE, api_exception_handler, service_unavailable
from core.http import PLAIN_JSON, device_of, idempotency_key_of, json_parse
from sales import services
from sales.api.serializers import purchase_input
from sales.gate.admission import Purchase
from sales.rush_token import access_token_user
from sales.web.sale_pages import live_response

PURCHASE = re.compile(r"/api/v1/sales/([0-9]{1,18})/purchase")
TICKET = re.compile(r"/api/v1/tickets/([^/]+)")
# Ids of at most 18 digits fit a bigint; a longer one (Django: a 404, or no route at all past
# Python's int() limit) is Django's to answer.
LIVE = re.compile(r"/sales/([0-9]{1,18})/live\.json")

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
    any other is left to simplejwt's own classes, which decide as they always do. The header
    is split as simplejwt splits it: as bytes, so that only ASCII whitespace separates."""
    jwt_settings = simplejwt_settings.api_settings
    if (jwt_settings.AUTH_HEADER_NAME != "HTTP_AUTHORIZATION"
            or tuple(jwt_settings.AUTH_HEADER_TYPES) != ("Bearer",)):
        raise Handoff
    header = environ.get("HTTP_AUTHORIZATION", "").encode("iso-8859-1", "replace")
    parts = header.split()
    if len(parts) != 2 or parts[0] != b"Bearer":
        raise Handoff  # no token, or a malformed header: Django's 401
    user_id = access_token_user(parts[1].decode("iso-8859-1"))
    if user_id is not None:
        return user_id
    try:
        raw = _authenticator.get_raw_token(header)
        if raw is None:
            raise Handoff
        user = _authenticator.get_user(_authenticator.get_validated_token(raw))
        return int(user.id)
    except (AuthenticationFailed, InvalidToken, TokenError, TypeError, ValueError):
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
    rendering; `text/html` alone, or an empty Accept, is a 406: Django's to answer)."""
    accept = environ.get("HTTP_ACCEPT")
    if accept is None:
        return True
    types = [part.strip() for part in accept.split(",")]
    return all(";" not in t for t in types) and any(
        t in ("*/*", "application/*", "application/json") for t in types)


CSRF_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def _cookies_left_alone(environ: dict) -> bool:
    """Django's session and CSRF middleware would add no Set-Cookie or Vary: no cookies, or a
    well-formed session key and CSRF token (a malformed one is deleted or replaced)."""
    raw = environ.get("HTTP_COOKIE")
    if not raw:
        return True
    if settings.CSRF_USE_SESSIONS:
        return False
    cookies = parse_cookie(raw)
    session = cookies.get(settings.SESSION_COOKIE_NAME)
    if session is not None and len(session) < 8:
        return False
    token = cookies.get(settings.CSRF_COOKIE_NAME)
    return token is None or (len(token) in (32, 64) and set(token) <= CSRF_CHARS)


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
        values = policy.split(",") if isinstance(policy, str) else policy
        headers.append(("Referrer-Policy", ",".join(v.strip() for v in values)))
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


def purchase(environ: dict, sale_id: int) -> Callable[[], HttpResponse]:
    """SalePurchaseApi.post on the gate strategy: the request read and checked (or Handoff),
    then the admission to run."""
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

    def admit() -> HttpResponse:
        admission = services.purchase_admit(purchase=bought)
        return _json(202, {"ticket": admission.ticket, "status": "queued",
                           "position": admission.position})
    return admit


def ticket(environ: dict, ticket_id: str) -> Callable[[], HttpResponse]:
    """TicketApi.get, TicketOutput's representation."""
    user_id = user_id_from(environ)

    def resolve() -> HttpResponse:
        found = services.ticket_resolve(ticket=ticket_id, user_id=user_id)
        return _json(200, {
            "ticket": str(found.ticket), "status": str(found.status),
            "position": None if found.position is None else int(found.position),
            "order": None if found.order is None else int(found.order),
            "reason": None if found.reason is None else str(found.reason)})
    return resolve


def live(environ: dict, sale_id: int) -> Callable[[], HttpResponse]:
    """live_state: nothing to check in the request."""
    return partial(live_response, sale_id)


# (method, path, its view, the argument's type, DRF's Allow header or None off the API)
ROUTES = (("POST", PURCHASE, purchase, int, "POST, OPTIONS"),
          ("GET", TICKET, ticket, str, "GET, HEAD, OPTIONS"),
          ("GET", LIVE, live, int, None))


class RushPath:
    """WSGI middleware: the rush's requests here, everything else to `app` (Django)."""

    def __init__(self, app: Callable[[dict, StartResponse], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if (not settings.RUSH_PATH or environ.get("QUERY_STRING")
                or settings.PURCHASE_STRATEGY != "gate" or settings.DISALLOWED_USER_AGENTS):
            return self.app(environ, start_response)
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        for route_method, pattern, view, convert, allow in ROUTES:
            if method == route_method and (match := pattern.fullmatch(path)):
                secure = _secure(environ)
                if ((settings.SECURE_SSL_REDIRECT and not secure) or not _host_allowed(environ)
                        or not _cookies_left_alone(environ)
                        or (allow and not _accepts_json(environ))):
                    break
                try:
                    run = view(environ, convert(match.group(1)))
                    response = self._run(environ, run, api=allow is not None)
                except Handoff:
                    break
                return self._send(start_response, response, secure=secure, allow=allow)
        return self.app(environ, start_response)

    @staticmethod
    def _run(environ: dict, run: Callable[[], HttpResponse], *, api: bool) -> HttpResponse:
        """Run the decision between Django's request signals, as Django's handler does (the
        database connections are looked after as for any request); errors become what
        Django would answer: the API's exception handler, or the storefront's 503."""
        signals.request_started.send(sender=WSGIHandler, environ=environ)
        try:
            return run()
        except Exception as error:  # noqa: BLE001 - every error gets Django's answer
            if api:
                return api_exception_handler(error, {})
            if isinstance(error, UNAVAILABLE):
                return service_unavailable(error)  # what a .json storefront poll gets
            raise Handoff from None  # a bug: Django's own 500
        finally:
            signals.request_finished.send(sender=WSGIHandler)

    @staticmethod
    def _send(start_response: StartResponse, response: HttpResponse, *, secure: bool,
              allow: str | None) -> Iterable[bytes]:
        headers = list(response.items())
        if allow:
            headers.append(("Allow", allow))
        headers.extend(_middleware_headers(secure))
        headers.append(("Content-Length", str(len(response.content))))
        start_response(f"{response.status_code} {HTTPStatus(response.status_code).phrase}",
                       headers)
        return [response.content]
