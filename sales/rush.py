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

What a purchase does not need, it skips: the settings are read once (sales.rush_config), a
token already verified is not verified again (sales.rush_token), a body seen before is not
parsed again, a refusal's bytes are made once, and Django's request signals (which look after
database connections) are sent only around what reads the database: the purchase's decision
is Redis alone, so they are sent only if the gate cannot answer and the database is asked why
(unless a receiver other than Django's own is connected: then every purchase sends them).
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Iterable
from functools import partial
from http import HTTPStatus

from django.core import signals
from django.core.cache import close_caches
from django.core.handlers.base import reset_urlconf
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, reset_queries
from django.http import HttpResponse
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from core.error_handling import UNAVAILABLE, api_exception_handler, service_unavailable
from core.errors import DomainError, ErrorCode
from core.http import (
    CLIENT_ENVIRON_KEYS,
    PLAIN_JSON,
    client_ip_of,
    client_of,
    device_of,
    idempotency_key_of,
    json_parse,
)
from sales import services
from sales.api.serializers import purchase_input
from sales.gate import admission
from sales.gate.admission import Purchase
from sales.rush_config import RushConfig, rush_config
from sales.rush_token import access_token_user, remembered_user
from sales.web.sale_pages import live_response

PURCHASE = re.compile(r"/api/v1/sales/([0-9]{1,18})/purchase")
TICKET = re.compile(r"/api/v1/tickets/([^/]+)")
# Ids of at most 18 digits fit a bigint; a longer one (Django: a 404, or no route at all past
# Python's int() limit) is Django's to answer.
LIVE = re.compile(r"/sales/([0-9]{1,18})/live\.json")
# Bodies (and refusals) remembered per process: a rush sends a handful of distinct ones.
REMEMBERED_MAX = 1024
REMEMBERED_BODY_MAX = 256  # bytes: a purchase's body is a few dozen
# A ticket as sales.gate.keys.ticket_new makes it: nothing JSON would escape.
PLAIN_TICKET = re.compile(r"[0-9a-f-]{1,80}")

StartResponse = Callable[..., object]
# An answer: status, headers (the view's own), body.
Reply = tuple[int, tuple[tuple[str, str], ...], bytes]
JSON_HEADERS = (("Content-Type", "application/json"),)
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class Environ:
    """A bare WSGI environ where the request helpers of `core.http` expect a request: they
    read nothing but `.META`, and Django's own META is the environ too."""

    __slots__ = ("META",)

    def __init__(self, environ: dict) -> None:
        self.META = environ


class Handoff(Exception):
    """Not this path's to answer: Django answers instead (nothing was decided yet)."""


_authenticator = JWTStatelessUserAuthentication()


def user_id_from(environ: dict, config: RushConfig) -> int:
    """The token's user id exactly as the API's authentication reads it, or Handoff (Django
    then answers the 401 with its own WWW-Authenticate).

    A token as this store issues it is checked by `access_token_user` (a tenth of the cost);
    any other is left to simplejwt's own classes, which decide as they always do. The header
    is split as simplejwt splits it: as bytes, so that only ASCII whitespace separates."""
    if not config.bearer_authorization:
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


def _body(environ: dict, config: RushConfig) -> bytes:
    """The request body when it is plain JSON of a declared, allowed size; else Handoff."""
    if environ.get("CONTENT_TYPE", "").lower() not in PLAIN_JSON:
        raise Handoff
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Handoff from None
    if length < 0 or (config.max_body is not None and length > config.max_body):
        raise Handoff
    body = environ["wsgi.input"].read(length) if length else b""
    # Put it back, so that a handoff gives Django the request as it came.
    environ["wsgi.input"] = io.BytesIO(body)
    return body


_purchases_read: dict[bytes, dict] = {}


def _purchase_data(body: bytes) -> dict:
    """`purchase_input` of the parsed body (its ParseError or refusal raised as they are),
    remembered for short bodies: the result depends on the bytes alone and is only read."""
    data = _purchases_read.get(body)
    if data is None:
        data = purchase_input(json_parse(body) if body else {})
        if len(body) <= REMEMBERED_BODY_MAX:
            if len(_purchases_read) >= REMEMBERED_MAX:
                _purchases_read.clear()
            _purchases_read[body] = data
    return data


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


def _ours(environ: dict, config: RushConfig, *, api: bool) -> bool | None:
    """Whether the request is secure, if this path may answer it as Django would; None if
    Django must: an HTTPS redirect due, a host Django would refuse, cookies its session or
    CSRF middleware would touch, or (on the API) an Accept its content negotiation reads
    differently. Worked out once per combination of the headers it depends on."""
    proxy = config.proxy_ssl_header
    key = (environ.get("wsgi.url_scheme"), environ.get(proxy[0]) if proxy else None,
           environ.get("HTTP_HOST"), environ.get("HTTP_COOKIE"),
           environ.get("HTTP_ACCEPT") if api else None, api)
    known = config.shapes.get(key, _UNKNOWN)
    if known is _UNKNOWN:
        secure = config.secure(environ)
        fits = (not (config.ssl_redirect and not secure) and config.host_allowed(environ)
                and config.cookies_left_alone(environ) and (not api or _accepts_json(environ)))
        known = config.shapes.put(key, secure if fits else None)
    return known


_UNKNOWN = object()


def _json(status: int, body: dict) -> Reply:
    """DRF's JSONRenderer's bytes: compact, UTF-8, no NaN."""
    content = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return status, JSON_HEADERS, content.encode()


def _reply_of(response: HttpResponse) -> Reply:
    return response.status_code, tuple(response.items()), response.content


_refusals: dict[tuple, Reply] = {}


def _refusal(error: Exception) -> Reply:
    """The API's exception handler's answer; a domain refusal's is made once per code,
    message and details (the handler's answer depends on nothing else)."""
    if not isinstance(error, DomainError):
        return _reply_of(api_exception_handler(error, {}))
    key = (error.code, error.message, error.status, repr(error.details))
    reply = _refusals.get(key)
    if reply is None:
        reply = _reply_of(api_exception_handler(error, {}))
        if len(_refusals) >= REMEMBERED_MAX:
            _refusals.clear()
        _refusals[key] = reply
    return reply


def _decided(work: Callable[[], Reply], *, api: bool) -> Reply:
    """The decision's answer; errors become what Django would answer: the API's exception
    handler, or the storefront's 503."""
    try:
        return work()
    except Exception as error:  # noqa: BLE001 - every error gets Django's answer
        if api:
            return _refusal(error)
        if isinstance(error, UNAVAILABLE):
            return _reply_of(service_unavailable(error))  # what a .json storefront poll gets
        raise Handoff from None  # a bug: Django's own 500


# Django's own receivers of the request signals: they look after database connections,
# caches and the URLconf, none of which a decision by Redis alone touches.
DJANGOS_RECEIVERS = frozenset(id(f) for f in (reset_queries, close_old_connections,
                                               close_caches, reset_urlconf))
_receivers_seen: dict[tuple[int, int], bool] = {}


def _only_djangos_receivers() -> bool:
    """No receiver but Django's own is connected to the request signals (worked out again
    whenever their receivers change): then a Redis-only decision may skip them; a receiver
    someone added (tracing, request counting) still hears of every request."""
    started, finished = signals.request_started.receivers, signals.request_finished.receivers
    key = (len(started), len(finished))
    known = _receivers_seen.get(key)
    if known is None:
        known = all(lookup[0] in DJANGOS_RECEIVERS for lookup, *_ in (*started, *finished))
        _receivers_seen.clear()
        _receivers_seen[key] = known
    return known


def _in_request(environ: dict, work: Callable[[], object]):
    """`work` between Django's request signals, as Django's handler runs a view: the
    database connections it uses are looked after as for any request."""
    signals.request_started.send(sender=WSGIHandler, environ=environ)
    try:
        return work()
    finally:
        signals.request_finished.send(sender=WSGIHandler)


_SOLD_OUT = DomainError(ErrorCode.SOLD_OUT, admission.REFUSALS[ErrorCode.SOLD_OUT])


def _sold_out_lane(environ: dict, config: RushConfig,
                   start_response: StartResponse) -> Iterable[bytes] | None:
    """The answer most of a rush gets, before anything is built: a purchase of a sale whose
    sold-out memo is fresh, with a token already verified (its clock checked), a body already
    validated (without an F-code, which the memo never answers), no Idempotency-Key (its
    check is the full path's), nobody but Django listening to the request signals, and a
    request this path answers as Django would. Exactly what the full path would then do: the
    attempt recorded, the memo's refusal sent. Anything else (None): the routes decide, from
    the start. Written as one function on purpose: it answers most of a rush, and each call it
    saves is a share of the answer's cost."""
    path = environ.get("PATH_INFO", "")
    sale_id = _purchase_paths.get(path)
    if sale_id is None:
        match = PURCHASE.fullmatch(path)
        if match is None:
            return None
        if len(_purchase_paths) >= REMEMBERED_MAX:
            _purchase_paths.clear()
        sale_id = _purchase_paths[path] = int(match.group(1))
    if not (admission.sold_out_memo_fresh(sale_id) and config.bearer_authorization
            and "HTTP_IDEMPOTENCY_KEY" not in environ):
        return None
    header = environ.get("HTTP_AUTHORIZATION", "")
    user_id = remembered_user(header[7:]) if header.startswith("Bearer ") else None
    if user_id is None:
        return None
    secure = _ours(environ, config, api=True)
    if secure is None:
        return None
    try:
        data = _purchases_read.get(_body(environ, config))  # the body is put back either way
    except Handoff:
        return None
    if data is None or data["fcode"] is not None or not _only_djangos_receivers():
        return None
    device, ip, client = _signals_of(environ, config)
    admission.memo_attempt_record(sale_id=sale_id, user_id=user_id,
                                  now_ms=int(time.time() * 1000), device=device, ip=ip,
                                  client=client)
    status, headers, content = config.sold_out_answers.get(secure) or _sold_out_answer(
        config, secure)
    start_response(status, list(headers))
    return [content]


_purchase_paths: dict[str, int] = {}
_SIGNAL_KEYS = ("HTTP_X_DEVICE_ID", "HTTP_X_FORWARDED_FOR", "REMOTE_ADDR", "HTTP_USER_AGENT",
                *CLIENT_ENVIRON_KEYS)


def _signals_of(environ: dict, config: RushConfig) -> tuple[str, str, str]:
    """(device, ip, client) as core.http reads them, once per combination of the headers
    they are read from (kept with the settings: the IP depends on TRUSTED_PROXY_COUNT)."""
    key = tuple(map(environ.get, _SIGNAL_KEYS))
    known = config.signals.get(key)
    if known is None:
        request = Environ(environ)
        known = config.signals.put(key, (device_of(request), client_ip_of(request),
                                         client_of(request)))
    return known


def _sold_out_answer(config: RushConfig, secure: bool) -> tuple[str, list, bytes]:
    """The memo's refusal as RushPath._send sends it (made once per settings)."""
    answer: list = []
    reply = _refusal(_SOLD_OUT)
    body = RushPath._send(lambda status, headers: answer.extend((status, headers)), reply,
                          config, secure=secure, allow=PURCHASE_ALLOW)
    answer.append(b"".join(body))
    config.sold_out_answers[secure] = tuple(answer)
    return config.sold_out_answers[secure]


def purchase(environ: dict, sale_id: int, config: RushConfig) -> Reply:
    """SalePurchaseApi.post on the gate strategy: the request read and checked (or Handoff),
    then the admission, decided by Redis alone (the request signals only around the
    database's explanation, if the gate cannot answer)."""
    user_id = user_id_from(environ, config)
    try:
        data = _purchase_data(_body(environ, config))
        request = Environ(environ)
        bought = Purchase.of_request(request, sale_id=sale_id, user_id=user_id, data=data,
                                     idempotency_key=idempotency_key_of(request),
                                     device=device_of(request))
    except Exception:  # noqa: BLE001 - a malformed request is Django's to answer, as always
        raise Handoff from None

    # Someone besides Django listens: the whole decision between the signals, sent once.
    in_request = not _only_djangos_receivers()

    def admit() -> Reply:
        admitted = services.purchase_admit(
            purchase=bought, database=None if in_request else partial(_in_request, environ))
        if PLAIN_TICKET.fullmatch(admitted.ticket):  # always: then json.dumps's bytes, made
            return 202, JSON_HEADERS, b'{"ticket":"%s","status":"queued","position":%d}' % (
                admitted.ticket.encode(), admitted.position)
        return _json(202, {"ticket": admitted.ticket, "status": "queued",
                           "position": admitted.position})
    if in_request:
        return _in_request(environ, partial(_decided, admit, api=True))
    return _decided(admit, api=True)


def ticket(environ: dict, ticket_id: str, config: RushConfig) -> Reply:
    """TicketApi.get, TicketOutput's representation."""
    user_id = user_id_from(environ, config)

    def resolve() -> Reply:
        found = services.ticket_resolve(ticket=ticket_id, user_id=user_id)
        return _json(200, {
            "ticket": str(found.ticket), "status": str(found.status),
            "position": None if found.position is None else int(found.position),
            "order": None if found.order is None else int(found.order),
            "reason": None if found.reason is None else str(found.reason)})
    return _in_request(environ, partial(_decided, resolve, api=True))


def live(environ: dict, sale_id: int, config: RushConfig) -> Reply:
    """live_state: nothing to check in the request."""
    def state() -> Reply:
        return _reply_of(live_response(sale_id))
    return _in_request(environ, partial(_decided, state, api=False))


# (method, path, its view, the argument's type, DRF's Allow header or None off the API)
PURCHASE_ALLOW = "POST, OPTIONS"
ROUTES = (("POST", PURCHASE, purchase, int, PURCHASE_ALLOW),
          ("GET", TICKET, ticket, str, "GET, HEAD, OPTIONS"),
          ("GET", LIVE, live, int, None))


class RushPath:
    """WSGI middleware: the rush's requests here, everything else to `app` (Django)."""

    def __init__(self, app: Callable[[dict, StartResponse], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        config = rush_config()
        if not config.enabled or environ.get("QUERY_STRING"):
            return self.app(environ, start_response)
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        if method == "POST":
            answered = _sold_out_lane(environ, config, start_response)
            if answered is not None:
                return answered
        for route_method, pattern, view, convert, allow in ROUTES:
            if method == route_method and (match := pattern.fullmatch(path)):
                secure = _ours(environ, config, api=allow is not None)
                if secure is None:
                    break
                try:
                    reply = view(environ, convert(match.group(1)), config)
                except Handoff:
                    break
                return self._send(start_response, reply, config, secure=secure, allow=allow)
        return self.app(environ, start_response)

    @staticmethod
    def _send(start_response: StartResponse, reply: Reply, config: RushConfig, *,
              secure: bool, allow: str | None) -> Iterable[bytes]:
        status, own, content = reply
        key = (own, allow, secure)
        first = config.replies.get(key)
        if first is None:
            first = (*own, ("Allow", allow)) if allow else own
            first += config.headers[secure]
            if len(config.replies) >= REMEMBERED_MAX:
                config.replies.clear()
            config.replies[key] = first
        start_response(STATUS_LINES[status], [*first, ("Content-Length", str(len(content)))])
        return [content]
