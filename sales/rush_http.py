"""What the rush path (sales.rush) reads from a request and how it answers, exactly as Django
and DRF would: the token (simplejwt's check, or Handoff to Django), the body and its
validation, the checks Django's middleware would make (host, HTTPS, cookies, Accept), the
API's refusals through its own exception handler, the request signals, and the headers its
middleware adds to every reply. Each piece remembers what repeats in a rush.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
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
from core.errors import DomainError
from core.http import PLAIN_JSON, json_parse
from sales.api.serializers import purchase_input
from sales.rush_config import RushConfig
from sales.rush_token import access_token_user

# Bodies (and refusals) remembered per process: a rush sends a handful of distinct ones.
REMEMBERED_MAX = 1024
REMEMBERED_BODY_MAX = 256  # bytes: a purchase's body is a few dozen

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


def body_of(environ: dict, config: RushConfig) -> bytes:
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


purchases_read: dict[bytes, dict] = {}


def purchase_data(body: bytes) -> dict:
    """`purchase_input` of the parsed body (its ParseError or refusal raised as they are),
    remembered for short bodies: the result depends on the bytes alone and is only read."""
    data = purchases_read.get(body)
    if data is None:
        data = purchase_input(json_parse(body) if body else {})
        if len(body) <= REMEMBERED_BODY_MAX:
            if len(purchases_read) >= REMEMBERED_MAX:
                purchases_read.clear()
            purchases_read[body] = data
    return data


def accepts_json(environ: dict) -> bool:
    """DRF's content negotiation would pick the JSON renderer as is: no Accept, or one that
    names JSON or anything without parameters (`application/json; indent=4` changes the
    rendering; `text/html` alone, or an empty Accept, is a 406: Django's to answer)."""
    accept = environ.get("HTTP_ACCEPT")
    if accept is None:
        return True
    types = [part.strip() for part in accept.split(",")]
    return all(";" not in t for t in types) and any(
        t in ("*/*", "application/*", "application/json") for t in types)


def ours(environ: dict, config: RushConfig, *, api: bool) -> bool | None:
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
                and config.cookies_left_alone(environ) and (not api or accepts_json(environ)))
        known = config.shapes.put(key, secure if fits else None)
    return known


_UNKNOWN = object()


def json_reply(status: int, body: dict) -> Reply:
    """DRF's JSONRenderer's bytes: compact, UTF-8, no NaN."""
    content = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return status, JSON_HEADERS, content.encode()


def reply_of(response: HttpResponse) -> Reply:
    return response.status_code, tuple(response.items()), response.content


refusals: dict[tuple, Reply] = {}


def refusal(error: Exception) -> Reply:
    """The API's exception handler's answer; a domain refusal's is made once per code,
    message and details (the handler's answer depends on nothing else)."""
    if not isinstance(error, DomainError):
        return reply_of(api_exception_handler(error, {}))
    key = (error.code, error.message, error.status, repr(error.details))
    reply = refusals.get(key)
    if reply is None:
        reply = reply_of(api_exception_handler(error, {}))
        if len(refusals) >= REMEMBERED_MAX:
            refusals.clear()
        refusals[key] = reply
    return reply


def decided(work: Callable[[], Reply], *, api: bool) -> Reply:
    """The decision's answer; errors become what Django would answer: the API's exception
    handler, or the storefront's 503."""
    try:
        return work()
    except Exception as error:  # noqa: BLE001 - every error gets Django's answer
        if api:
            return refusal(error)
        if isinstance(error, UNAVAILABLE):
            return reply_of(service_unavailable(error))  # what a .json storefront poll gets
        raise Handoff from None  # a bug: Django's own 500


# Django's own receivers of the request signals: they look after database connections,
# caches and the URLconf, none of which a decision by Redis alone touches.
DJANGOS_RECEIVERS = frozenset(id(f) for f in (reset_queries, close_old_connections,
                                               close_caches, reset_urlconf))
_receivers_seen: dict[tuple[int, int], bool] = {}


def only_djangos_receivers() -> bool:
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


def in_request(environ: dict, work: Callable[[], object]):
    """`work` between Django's request signals, as Django's handler runs a view: the
    database connections it uses are looked after as for any request."""
    signals.request_started.send(sender=WSGIHandler, environ=environ)
    try:
        return work()
    finally:
        signals.request_finished.send(sender=WSGIHandler)


def send(start_response: StartResponse, reply: Reply, config: RushConfig, *,
         secure: bool, allow: str | None) -> Iterable[bytes]:
    """Send a reply with the headers Django's middleware adds (and DRF's Allow on the API);
    the fixed headers of each kind of reply are put together once per settings."""
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
