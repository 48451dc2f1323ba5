"""The interpreter's limit for a purchase: a bare WSGI app the benchmark serves beside the project.

`POST /limit/sales/<id>/admit` is the least work a Python web tier can do for one purchase with
the project's contract and the project's Redis work: verify the access token as the API does
(PyJWT, HS256, the project's SIMPLE_JWT signing key, token type "access", exp; a token verified
before is remembered with its expiry, as the purchase's own check does), parse the JSON body,
make one EVALSHA of the gate's own script (sales/gate/lua/admit.lua, with the keys and
arguments a purchase gives it, over the gate's own line to Redis, `sales.gate.hotline`), and
answer 202 with the ticket, or a refusal in the API's error envelope. The purchase (b) and
this limit then ask Redis for exactly the same work, so their ratio is the web tier's alone:
what the issue says limits the rush. (L) in the benchmark.

`POST /limit/sales/<id>/purchase` is the same with a three-command script (DECR, HINCRBY,
XADD: the core of admit.lua) on the limit's own keys: the floor of any purchase at all,
(L3), an informative row.

No Django request handling, no routing, no middleware in the request path: Django is set up
and asked for the settings once, when the module is imported.

`GET /limit/bare` answers a constant: the limit of answering any request at all on the server
and worker shape it runs on; `POST /limit/bare` reads the body first (a purchase's request,
token header and body, answered with nothing decided: the floor of a sold-out answer).

The benchmark measures the real purchase against the first, and the sold-out answer (which
needs no Redis) against the bare GET, on the same server and shape (BENCHMARKS.md).
Served as `loadtests.limit:application` on any of loadtests.servers.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable

import hiredis
import jwt
import redis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()  # the gate's modules need the apps loaded; done once, at import

from django.conf import settings  # noqa: E402 - read once, at import, never per request
from rest_framework_simplejwt.settings import api_settings as jwt_settings  # noqa: E402

from core.http import client_of  # noqa: E402
from sales.gate import hotline  # noqa: E402
from sales.gate.admission import DATASET_ARG, Purchase, admit_argv, admit_keys  # noqa: E402
from sales.gate.keys import script_source, ticket_new  # noqa: E402


class _Meta:
    """The environ where core.http's helpers read a request's `.META`."""

    __slots__ = ("META",)

    def __init__(self, environ: dict) -> None:
        self.META = environ

SCRIPT = """
local left = redis.call('DECR', KEYS[1])
if left < 0 then
  redis.call('INCR', KEYS[1])
  return {'sold_out'}
end
redis.call('HINCRBY', KEYS[2], ARGV[1], ARGV[2])
local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*',
                      'ticket', ARGV[3], 'user', ARGV[1], 'qty', ARGV[2])
return {'ok', id}
"""
QUEUE_CAP = 1_000_000  # the stream is trimmed past this (approximately): a bench runs for minutes
PREFIX = "/limit/sales/"
SIGNING_KEY = jwt_settings.SIGNING_KEY
ALGORITHMS = [jwt_settings.ALGORITHM]
USER_ID_CLAIM = jwt_settings.USER_ID_CLAIM
TOKEN_TYPE_CLAIM = jwt_settings.TOKEN_TYPE_CLAIM
LEEWAY = jwt_settings.LEEWAY
LEEWAY_SECONDS = LEEWAY.total_seconds() if hasattr(LEEWAY, "total_seconds") else float(LEEWAY)
JSON = ("Content-Type", "application/json")

StartResponse = Callable[..., object]


def keys_of(sale_id: int) -> tuple[str, str, str]:
    """The limit's own keys (stock, bought, queue), apart from every gate's."""
    return f"limit:{sale_id}:stock", f"limit:{sale_id}:bought", f"limit:{sale_id}:queue"


class Line:
    """This thread's socket to Redis: one packed command out, one hiredis-parsed reply in."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, protocol=2)
        self.sha = self._client.script_load(SCRIPT)
        connection = self._client.connection_pool.make_connection()
        connection.connect()  # authenticated and on the URL's database, as everywhere else
        self._connection = connection
        self._sock: socket.socket = connection._sock
        self._reader = hiredis.Reader(encoding="utf-8")
        self.calls = 0

    def call(self, *args: str | int) -> object:
        self.calls += 1
        self._sock.sendall(hiredis.pack_command(args))
        while (reply := self._reader.gets()) is False:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            self._reader.feed(chunk)
        return reply

    def admit(self, keys: tuple[str, ...], *args: str | int) -> list:
        """EVALSHA the script; loaded again if Redis lost it (NOSCRIPT: nothing ran)."""
        reply = self.call("EVALSHA", self.sha, len(keys), *keys, *args)
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
            self.sha = self._client.script_load(SCRIPT)
            reply = self.call("EVALSHA", self.sha, len(keys), *keys, *args)
        if isinstance(reply, Exception):
            raise reply
        return reply


_local = threading.local()


def line() -> Line:
    """This thread's line (a greenlet's under gevent), opened on first use."""
    found = getattr(_local, "line", None)
    if found is None:
        found = _local.line = Line(settings.REDIS_URL)
    return found


def _answer(start_response: StartResponse, status: str, body: dict,
            extra: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [JSON, ("Content-Length", str(len(data))), *extra])
    return [data]


def _refuse(start_response: StartResponse, status: str, code: str, message: str,
            extra: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    """The API's error envelope (core.errors.envelope), built without Django."""
    body = {"error": {"code": code, "message": message, "details": {}}}
    return _answer(start_response, status, body, extra)


NO_TOKEN = "Authentication is required: send a Bearer token."
BAD_TOKEN = "Given token not valid for any token type"


# Tokens verified before, with (user id, exp): the purchase's own check remembers them too
# (sales.rush_token), so the limit does the same least work for a token it has seen.
_verified: dict[str, tuple[int, float]] = {}
REMEMBERED_MAX = 65536


def user_of(environ: dict) -> int | str:
    """The user id an access token carries (the checks simplejwt makes for the API), or the
    API's sentence for why there is none (a str). simplejwt writes the id as a string. A
    token verified before only has its expiry checked again."""
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme != "Bearer" or not token:
        return NO_TOKEN
    known = _verified.get(token)
    if known is not None:
        return known[0] if time.time() - LEEWAY_SECONDS < known[1] else BAD_TOKEN
    try:
        claims = jwt.decode(token, SIGNING_KEY, algorithms=ALGORITHMS, leeway=LEEWAY,
                            options={"require": ["exp"]})
    except jwt.InvalidTokenError:
        return BAD_TOKEN
    user = str(claims.get(USER_ID_CLAIM, ""))
    if claims.get(TOKEN_TYPE_CLAIM) != "access" or not user.isdigit():
        return BAD_TOKEN
    if len(_verified) >= REMEMBERED_MAX:
        _verified.clear()
    _verified[token] = (int(user), float(claims["exp"]))
    return int(user)


# Bodies read before, with their quantity: the purchase's own path remembers short bodies
# too (sales.rush), so the limit does the same least work for a body it has seen.
_quantities: dict[bytes, int | None] = {}
REMEMBERED_BODY_MAX = 256


def quantity_of(environ: dict) -> int | None:
    """The body's quantity (1 if absent), or None if the body is not a JSON object with a
    positive integer quantity."""
    try:
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return None
    if raw in _quantities:
        return _quantities[raw]
    quantity = _quantity_in(raw)
    if len(raw) <= REMEMBERED_BODY_MAX:
        if len(_quantities) >= REMEMBERED_MAX:
            _quantities.clear()
        _quantities[raw] = quantity
    return quantity


def _quantity_in(raw: bytes) -> int | None:
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    quantity = body.get("quantity", 1)
    if type(quantity) is not int or quantity < 1:
        return None
    return quantity


def _buyer(environ: dict, start_response: StartResponse) -> tuple[int, int] | list[bytes]:
    """(user id, quantity) from the token and the body, or the refusal already answered."""
    user = user_of(environ)
    if isinstance(user, str):
        return _refuse(start_response, "401 Unauthorized", "unauthenticated", user,
                       [("WWW-Authenticate", 'Bearer realm="api"')])
    quantity = quantity_of(environ)
    if quantity is None:
        return _refuse(start_response, "400 Bad Request", "invalid",
                       "The request has invalid fields.")
    return user, quantity


def purchase(environ: dict, start_response: StartResponse, sale_id: int) -> list[bytes]:
    buyer = _buyer(environ, start_response)
    if isinstance(buyer, list):
        return buyer  # refused
    user, quantity = buyer
    ticket = f"{sale_id}-{os.urandom(12).hex()}"
    try:
        reply = line().admit(keys_of(sale_id), user, quantity, ticket, QUEUE_CAP)
    except OSError:
        _local.line = None  # a broken line is opened again by the next request
        raise
    if reply[0] != "ok":
        return _refuse(start_response, "409 Conflict", "sold_out", "The sale is sold out.")
    # position: the queue entry's id (the gate answers its own sequence number)
    body = {"ticket": ticket, "status": "queued", "position": reply[1]}
    return _answer(start_response, "202 Accepted", body)


def admit(environ: dict, start_response: StartResponse, sale_id: int) -> list[bytes]:
    """The purchase's own Redis call (admit.lua on a loaded gate) behind the least web work."""
    buyer = _buyer(environ, start_response)
    if isinstance(buyer, list):
        return buyer  # refused
    user, quantity = buyer
    # The same arguments a purchase gives the script: its client signals, its kind of ticket.
    bought = Purchase(sale_id=sale_id, user_id=user, quantity=quantity,
                      ip=environ.get("REMOTE_ADDR", ""), client=client_of(_Meta(environ)))
    now_ms = int(time.time() * 1000)
    ticket = ticket_new(sale_id, user_id=user, issued_ms=now_ms)
    reply = hotline.line("admit", script_source)(
        keys=admit_keys(bought, ticket), args=admit_argv(bought, ticket=ticket, now_ms=now_ms),
        dataset_at=DATASET_ARG)
    if reply[0] != "admitted":
        return _refuse(start_response, "409 Conflict", reply[0], "Not admitted.")
    # the bytes json.dumps would make: a ticket needs no escaping (sales.gate.keys.ticket_new)
    data = b'{"ticket": "%s", "status": "queued", "position": %d}' % (
        reply[1].encode(), int(reply[2]))
    start_response("202 Accepted", [JSON, ("Content-Length", str(len(data)))])
    return [data]


BARE = b'{"ok": true}'


def application(environ: dict, start_response: StartResponse) -> list[bytes]:
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
    if path == "/limit/bare" and method == "GET":
        start_response("200 OK", [JSON, ("Content-Length", str(len(BARE)))])
        return [BARE]
    if path == "/limit/bare" and method == "POST":  # the body read, then the same constant
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [JSON, ("Content-Length", str(len(BARE)))])
        return [BARE]
    if path.startswith(PREFIX) and method == "POST":
        sale, _, action = path[len(PREFIX):].partition("/")
        if sale.isdigit() and action in ACTIONS:
            return ACTIONS[action](environ, start_response, int(sale))
    return _refuse(start_response, "404 Not Found", "not_found", "No such object.")


ACTIONS = {"admit": admit, "purchase": purchase}


def stock_set(client: redis.Redis, sale_id: int, units: int) -> None:
    """Give the limit's sale `units` to sell, with nobody having bought and nothing queued."""
    stock, bought, queue = keys_of(sale_id)
    client.delete(bought, queue)
    client.set(stock, units)
