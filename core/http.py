"""Small request helpers shared by the API views of every app."""

from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache

from django.conf import settings
from django.db.models import QuerySet
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.json import strict_constant

from core.errors import invalid
from core.memo import Memo
from core.snapshot import from_settings

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def user_id_of(request: Request) -> int:
    """The authenticated user's id, read from the token (no database query)."""
    return int(request.user.id)


PLAIN_JSON = ("application/json", "application/json; charset=utf-8",
              "application/json;charset=utf-8")


def json_body_of(request: Request):
    """The request's data, with a plain JSON body parsed directly.

    For a hot endpoint DRF's parser negotiation costs several times the parse itself. The
    answers are DRF's: the same strict parse (no NaN or Infinity), the same
    `JSON parse error - ...` message, `{}` for an empty body; any other content type goes
    through DRF's parsers (and its 415) as before. Two differences, both stricter: a body that
    is not valid UTF-8 is refused (DRF's stream reader drops a truncated last character), and
    Django's DATA_UPLOAD_MAX_MEMORY_SIZE applies (a 400, see core.error_handling).
    """
    if request.META.get("CONTENT_TYPE", "").lower() not in PLAIN_JSON:
        return request.data
    body = request.body
    if not body:
        return {}
    return json_parse(body)


def json_parse(body: bytes):
    """Strict JSON (no NaN or Infinity) from UTF-8 bytes, or DRF's ParseError.

    A body nested deeper than the parser's recursion limit (50,000 `[`) is a malformed body
    too: a 400, never the RecursionError's 500."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=strict_constant)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ParseError(f"JSON parse error - {error}") from None
    except RecursionError:
        raise ParseError("JSON parse error - the body is nested too deeply") from None


def idempotency_key_of(request: Request) -> str | None:
    key = request.META.get("HTTP_IDEMPOTENCY_KEY")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > 64 or not key.isprintable():
        raise invalid("Idempotency-Key must be 1 to 64 printable characters.",
                      idempotency_key=["invalid"])
    return key


# The long-lived cookie the storefront gives a browser at log-in (shop.web.device_cookie_ensure).
DEVICE_COOKIE = "device_id"


def device_of(request: Request, *, cookie: bool = False) -> str:
    """The client's X-Device-Id (a signal, never proof), at most 64 characters. With `cookie`
    (the storefront's pages), a browser that sends no header is known by the storefront's
    device cookie instead; the API reads the header alone."""
    device = request.META.get("HTTP_X_DEVICE_ID", "")
    if not device and cookie:
        device = request.COOKIES.get(DEVICE_COOKIE, "")
    return device[:64]


CLIENT_HEADERS = ("accept", "accept-language", "accept-encoding", "sec-ch-ua",
                  "sec-ch-ua-mobile", "sec-ch-ua-platform", "sec-fetch-site", "sec-fetch-mode",
                  "x-requested-with")


# Each header's name in a WSGI environ.
_CLIENT_KEYS = tuple((name, "HTTP_" + name.upper().replace("-", "_")) for name in CLIENT_HEADERS)
CLIENT_ENVIRON_KEYS = tuple(key for _, key in _CLIENT_KEYS)


def client_of(request: Request) -> str:
    """The user agent and the few headers that tell a browser from a script, as compact JSON
    (a signal for the anti-scalper rules, carried with the attempt through the gate)."""
    meta = request.META
    key = (meta.get("HTTP_USER_AGENT", ""), *map(meta.get, CLIENT_ENVIRON_KEYS))
    known = _clients.get(key)
    return known if known is not None else _clients.put(key, _client_json(key))


# Most of a rush's requests come from a few clients: their JSON is made once (a memo with a
# memory budget, since it is keyed by the headers as sent).
_clients: Memo[tuple, str] = Memo()


def _client_json(key: tuple) -> str:
    user_agent, *values = key
    headers = {name: value[:120] for (name, _), value in zip(_CLIENT_KEYS, values, strict=True)
               if value is not None}
    return json.dumps({"ua": user_agent[:200], "h": headers}, separators=(",", ":"))


def client_parse(raw: str) -> tuple[str, dict[str, str]]:
    """(user agent, headers) back from client_of's JSON; empty on anything unreadable."""
    try:
        client = json.loads(raw or "{}")
        return str(client.get("ua", "")), {str(k): str(v) for k, v in client.get("h", {}).items()}
    except (ValueError, AttributeError):
        return "", {}


UNKNOWN_IP = "0.0.0.0"


@from_settings
def _trusted_proxies() -> int:
    return settings.TRUSTED_PROXY_COUNT


def client_ip_of(request: Request) -> str:
    """REMOTE_ADDR, or the X-Forwarded-For entry our N trusted proxies vouch for.

    Always an IP address: the rate limits mask it as a network, and a forwarded entry that is
    not an address (or a server that gives no REMOTE_ADDR, as over a unix socket) must not
    turn into a 500, so those fall back to REMOTE_ADDR, then to 0.0.0.0."""
    proxies = _trusted_proxies()
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies and _is_ip(hops[-proxies]):
            return hops[-proxies]
    remote = request.META.get("REMOTE_ADDR", "")
    return remote if _is_ip(remote) else UNKNOWN_IP


def _is_ip(value: str) -> bool:
    """Whether `value` is an IP address (remembered for short values: an address is at most
    45 characters, a scoped IPv6 one a little more; a long header value is checked, not kept)."""
    return _is_short_ip(value) if len(value) <= 64 else _is_address(value)


@lru_cache(maxsize=65536)
def _is_short_ip(value: str) -> bool:
    return _is_address(value)


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


MAX_OFFSET = 2**31 - 1
_DECIMAL = re.compile(r"-?[0-9]{1,20}")


def window_of(params, *, default_limit: int = DEFAULT_LIMIT) -> tuple[int, int]:
    """(limit, offset) from ?limit=&offset=: ASCII integers, limit 1..MAX_LIMIT (clamped above),
    offset 0..MAX_OFFSET. A database cannot take an OFFSET past a 64-bit integer (SQLite raises
    OverflowError), so anything larger is a 400 naming the field, never a 500."""
    values = {}
    for name, default, low, high in (("limit", default_limit, 1, None),
                                     ("offset", 0, 0, MAX_OFFSET)):
        raw = params.get(name, "")
        raw = raw.strip() if isinstance(raw, str) else ""
        if not raw:
            values[name] = default
            continue
        if not _DECIMAL.fullmatch(raw):
            raise invalid(f"{name} must be an integer.", **{name: ["A valid integer is required."]})
        value = int(raw)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise invalid(f"{name} must be {bound}.", **{name: [f"Must be {bound}."]})
        values[name] = value
    return min(values["limit"], MAX_LIMIT), values["offset"]


def paginated(request: Request, queryset: QuerySet, serializer_class) -> Response:
    """A plain JSON list, windowed by ?limit=&offset=, with the total in X-Total-Count."""
    limit, offset = window_of(request.query_params)
    total = queryset.count()
    page = queryset[offset:offset + limit]
    response = Response(serializer_class(page, many=True).data)
    response["X-Total-Count"] = str(total)
    return response
