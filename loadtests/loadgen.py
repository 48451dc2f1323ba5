"""A small closed-loop HTTP load generator for benchmarks (gevent + geventhttpclient).

Run as its own process so that it never shares an interpreter with the server it measures:
    python -m loadtests.loadgen --url http://127.0.0.1:8000/api/v1/auth/whoami \
        --tokens var/bench/tokens.txt --duration 8 --concurrency 32
Prints one JSON object: requests, requests/s, p50/p90/p99 latency (ms), statuses, errors.
Each request carries the next token in turn, so load spreads over many accounts.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from urllib.parse import urlsplit

import gevent
from geventhttpclient import HTTPClient


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(int(fraction * len(sorted_values)), len(sorted_values) - 1)
    return sorted_values[index]


def run(*, url: str, method: str, tokens: list[str], body: str, duration: float,
        concurrency: int, warmup: float) -> dict:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    token_cycle = itertools.cycle(tokens)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    completed = [0]  # every answered request, warm-up included (for CPU per request)
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + duration
    payload = body.encode()

    def user() -> None:
        client = HTTPClient(parts.hostname, parts.port or 80, concurrency=1,
                            network_timeout=30, connection_timeout=10)
        while True:
            began = time.monotonic()
            if began >= stop_at:
                break
            headers = {"Authorization": f"Bearer {next(token_cycle)}",
                       "Content-Type": "application/json"}
            try:
                response = client.request(method, path, body=payload if method != "GET" else None,
                                          headers=headers)
                response.read()
                status = str(response.status_code)
                response.release()
            except Exception as error:  # noqa: BLE001 - every failure is counted, not raised
                errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                continue
            ended = time.monotonic()
            completed[0] += 1
            if began >= measure_from and ended <= stop_at:
                latencies.append((ended - began) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        client.close()

    gevent.joinall([gevent.spawn(user) for _ in range(concurrency)])
    latencies.sort()
    return {
        "url": url, "method": method, "concurrency": concurrency, "duration_s": duration,
        "requests": len(latencies), "rps": round(len(latencies) / duration, 1),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p90_ms": round(percentile(latencies, 0.90), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "statuses": statuses, "errors": errors, "answered_all": completed[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--tokens", required=True, help="file with one access token a line")
    parser.add_argument("--body", default="{}")
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with open(args.tokens) as handle:
        tokens = [line.strip() for line in handle if line.strip()]
    print(json.dumps(run(url=args.url, method=args.method.upper(), tokens=tokens, body=args.body,
                         duration=args.duration, concurrency=args.concurrency,
                         warmup=args.warmup)))


if __name__ == "__main__":
    main()
