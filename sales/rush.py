"""The rush path: the three requests a flash sale's rush is made of, answered by a plain WSGI
callable in front of Django.

In a rush nearly every request is a purchase, a ticket poll or the sale's live state
(`POST /api/v1/sales/{id}/purchase`, `GET /api/v1/tickets/{ticket}`,
`GET /sales/{id}/live.json`). Through Django and DRF each of them pays for ten middlewares,
URL resolving, content negotiation, a serializer and a renderer, about four times what the
purchase itself costs (one Redis call). `RushPath` answers them with the same services, the
same token check (simplejwt's own classes), the same body parser, the same exception handler
(`core.error_handling.api_exception_handler`) and the headers Django's middleware would add.

How a request is read and an answer sent as Django would is `sales.rush_http`'s; this module
holds the routes, the sold-out lane and the three views. It only takes what it is sure to
answer exactly as Django would, and hands everything else to
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

import re
import time
from collections.abc import Callable, Iterable
from functools import partial

from core.errors import DomainError, ErrorCode
from core.http import (
    CLIENT_ENVIRON_KEYS,
    client_ip_of,
    client_of,
    device_of,
    idempotency_key_of,
)
from sales import services
from sales.gate import admission
from sales.gate.admission import Purchase
from sales.rush_config import RushConfig, rush_config
from sales.rush_http import (
    JSON_HEADERS,
    REMEMBERED_MAX,
    Environ,
    Handoff,
    Reply,
    StartResponse,
    body_of,
    decided,
    in_request,
    json_reply,
    only_djangos_receivers,
    ours,
    purchase_data,
    purchases_read,
    refusal,
    reply_of,
    send,
    user_id_from,
)
from sales.rush_token import remembered_user
from sales.web.sale_pages import live_response

PURCHASE = re.compile(r"/api/v1/sales/([0-9]{1,18})/purchase")
TICKET = re.compile(r"/api/v1/tickets/([^/]+)")
# Ids of at most 18 digits fit a bigint; a longer one (Django: a 404, or no route at all past
# Python's int() limit) is Django's to answer.
LIVE = re.compile(r"/sales/([0-9]{1,18})/live\.json")
# A ticket as sales.gate.keys.ticket_new makes it: nothing JSON would escape.
PLAIN_TICKET = re.compile(r"[0-9a-f-]{1,80}")
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
    secure = ours(environ, config, api=True)
    if secure is None:
        return None
    try:
        data = purchases_read.get(body_of(environ, config))  # the body is put back either way
    except Handoff:
        return None
    if data is None or data["fcode"] is not None or not only_djangos_receivers():
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
    reply = refusal(_SOLD_OUT)
    body = send(lambda status, headers: answer.extend((status, headers)), reply,
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
        data = purchase_data(body_of(environ, config))
        request = Environ(environ)
        bought = Purchase.of_request(request, sale_id=sale_id, user_id=user_id, data=data,
                                     idempotency_key=idempotency_key_of(request),
                                     device=device_of(request))
    except Exception:  # noqa: BLE001 - a malformed request is Django's to answer, as always
        raise Handoff from None

    # Someone besides Django listens: the whole decision between the signals, sent once.
    listened = not only_djangos_receivers()

    def admit() -> Reply:
        admitted = services.purchase_admit(
            purchase=bought, database=None if listened else partial(in_request, environ))
        if PLAIN_TICKET.fullmatch(admitted.ticket):  # always: then json.dumps's bytes, made
            return 202, JSON_HEADERS, b'{"ticket":"%s","status":"queued","position":%d}' % (
                admitted.ticket.encode(), admitted.position)
        return json_reply(202, {"ticket": admitted.ticket, "status": "queued",
                                "position": admitted.position})
    if listened:
        return in_request(environ, partial(decided, admit, api=True))
    return decided(admit, api=True)


def ticket(environ: dict, ticket_id: str, config: RushConfig) -> Reply:
    """TicketApi.get, TicketOutput's representation."""
    user_id = user_id_from(environ, config)

    def resolve() -> Reply:
        found = services.ticket_resolve(ticket=ticket_id, user_id=user_id)
        return json_reply(200, {
            "ticket": str(found.ticket), "status": str(found.status),
            "position": None if found.position is None else int(found.position),
            "order": None if found.order is None else int(found.order),
            "reason": None if found.reason is None else str(found.reason)})
    return in_request(environ, partial(decided, resolve, api=True))


def live(environ: dict, sale_id: int, config: RushConfig) -> Reply:
    """live_state: nothing to check in the request."""
    def state() -> Reply:
        return reply_of(live_response(sale_id))
    return in_request(environ, partial(decided, state, api=False))


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
                secure = ours(environ, config, api=allow is not None)
                if secure is None:
                    break
                try:
                    reply = view(environ, convert(match.group(1)), config)
                except Handoff:
                    break
                return send(start_response, reply, config, secure=secure, allow=allow)
        return self.app(environ, start_response)
