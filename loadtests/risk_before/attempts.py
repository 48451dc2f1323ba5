"""The frozen antiscalper.attempts (see loadtests.risk_before): verbatim, do not edit."""

from __future__ import annotations

import ipaddress

from antiscalper.attempts import (
    FCODE_INVALID,
    MAX_AGENT,
    MAX_HEADER,
    RESERVATION,
    TIMELINE,
    TTL_SECONDS,
    Attempt,
    Keys,
    ms_to_datetime,
)
from antiscalper.models import (
    AttemptSignal,
)
from core.redis_client import connection


def subnet_of(ip: str) -> str:
    """The /24 of an IPv4 address or the /64 of an IPv6 one; "" for anything else."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _record(pipe, attempt: Attempt) -> None:
    keys, user = Keys(attempt.sale_id), attempt.user_id
    touched = []
    if attempt.kind == RESERVATION:
        if attempt.device:
            touched.append(keys.device(attempt.device, "r"))
            pipe.zadd(touched[-1], {user: attempt.at_ms}, nx=True)
        if attempt.ip:
            touched.append(keys.ip_reservers(attempt.ip))
            pipe.zadd(touched[-1], {user: attempt.at_ms}, nx=True)
    else:
        touched.append(keys.times(user))
        pipe.lpush(touched[-1], attempt.at_ms)
        pipe.ltrim(touched[-1], 0, TIMELINE - 1)
        if attempt.device:
            touched.append(keys.device(attempt.device, "u"))
            pipe.sadd(touched[-1], user)
            if attempt.at_opening:
                touched.append(keys.device(attempt.device, "o"))
                pipe.sadd(touched[-1], user)
        if attempt.ip:
            touched.append(keys.ip_bucket(attempt.ip, attempt.at_ms))
            pipe.incr(touched[-1])
        if subnet_of(attempt.ip) and attempt.at_opening:
            touched.append(keys.subnet_opening(subnet_of(attempt.ip)))
            pipe.sadd(touched[-1], user)
    if attempt.verdict == FCODE_INVALID:
        touched.append(keys.account_fcodes(user))
        pipe.incr(touched[-1])
        if attempt.device:
            touched.append(keys.device(attempt.device, "f"))
            pipe.incr(touched[-1])
    for key in touched:
        pipe.expire(key, TTL_SECONDS)


def _row(attempt: Attempt) -> AttemptSignal:
    headers = {str(k)[:50]: str(v)[:MAX_HEADER] for k, v in (attempt.headers or {}).items()}
    return AttemptSignal(
        sale_id=attempt.sale_id, user_id=attempt.user_id, kind=attempt.kind[:12],
        at=ms_to_datetime(attempt.at_ms), ms_since_open=attempt.at_ms - attempt.opens_ms,
        device=attempt.device[:64], ip=attempt.ip[:45], subnet=subnet_of(attempt.ip),
        user_agent=(attempt.user_agent or "")[:MAX_AGENT], headers=headers,
        reserved=attempt.reserved, verdict=attempt.verdict[:30], ticket=attempt.ticket[:64],
        address_id=attempt.address_id)


def attempts_record(*, attempts: list[Attempt]) -> None:
    """Count the attempts in Redis (one pipelined round trip) and keep them in AttemptSignal.

    Call it before `risk_evaluate` on the same attempts: the counters then include them.
    """
    if not attempts:
        return
    with connection().pipeline(transaction=False) as pipe:
        for attempt in attempts:
            _record(pipe, attempt)
        pipe.execute()
    AttemptSignal.objects.bulk_create([_row(a) for a in attempts], batch_size=1000)
