"""A closed-loop HTTP load generator for benchmarks: wrk where it is installed, else gevent.

Run as its own process so that it never shares an interpreter with the server it measures:
    python -m loadtests.loadgen --url http://127.0.0.1:8000/api/v1/auth/whoami \
        --tokens var/bench/tokens.txt --duration 8 --concurrency 32
Prints one JSON object: requests, requests/s, p50/p90/p99 latency (ms), statuses, errors.
Each request carries the next token in turn, so load spreads over many accounts.

The load generator shares the cores with the server it measures, so what it costs per request
is taken from what the server can do: wrk (C, `apt-get install wrk`) costs a few tens of
microseconds a request, the gevent generator (geventhttpclient) several hundred. On this
machine that is about as much as the limit app's whole request, so without wrk the fastest
rows are capped by the generator and every ratio is pulled towards 1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

WRK_SCRIPT = Path(__file__).with_name("wrk.lua")


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(int(fraction * len(sorted_values)), len(sorted_values) - 1)
    return sorted_values[index]


def run(*, url: str, method: str, tokens: list[str], body: str, duration: float,
        concurrency: int, warmup: float) -> dict:
    import gevent  # only this generator needs them (wrk runs without gevent's import cost)
    from geventhttpclient import HTTPClient

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
        "generator": "gevent",
    }


def _wrk(url: str, method: str, tokens_file: str, body_file: str, seconds: float,
         concurrency: int) -> dict:
    argv = ["wrk", "--threads", "1", "--connections", str(concurrency), "--duration",
            f"{max(1, round(seconds))}s", "--timeout", "30s", "--script", str(WRK_SCRIPT),
            url, "--", tokens_file, method, body_file]
    output = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(output[output.index("WRK_JSON ") + len("WRK_JSON "):].splitlines()[0])


def run_wrk(*, url: str, method: str, tokens: list[str], body: str, duration: float,
            concurrency: int, warmup: float) -> dict:
    """The same measurement through wrk: a warm-up run, then the measured one (wrk counts
    whole seconds)."""
    with tempfile.TemporaryDirectory(prefix="loadgen-") as folder:
        tokens_file, body_file = Path(folder) / "tokens", Path(folder) / "body"
        tokens_file.write_text("\n".join(tokens) + "\n")
        body_file.write_text(body)
        files = (str(tokens_file), str(body_file))
        warm = _wrk(url, method, files[0], files[1], warmup, concurrency) if warmup else None
        measured = _wrk(url, method, files[0], files[1], duration, concurrency)
    seconds = measured["duration_us"] / 1e6
    return {
        "url": url, "method": method, "concurrency": concurrency, "duration_s": duration,
        "requests": measured["requests"], "rps": round(measured["requests"] / seconds, 1),
        "p50_ms": measured["p50_us"] / 1000, "p90_ms": measured["p90_us"] / 1000,
        "p99_ms": measured["p99_us"] / 1000, "statuses": measured["statuses"],
        "errors": {k: v for k, v in measured["errors"].items() if v and k != "status"},
        "answered_all": measured["requests"] + (warm["requests"] if warm else 0),
        "generator": "wrk",
    }


def generator(choice: str = "auto") -> str:
    """wrk if asked for or, with "auto", if installed; else gevent."""
    if choice == "auto":
        return "wrk" if shutil.which("wrk") else "gevent"
    return choice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--tokens", required=True, help="file with one access token a line")
    parser.add_argument("--body", default="{}")
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--generator", choices=("auto", "wrk", "gevent"), default="auto")
    args = parser.parse_args()
    with open(args.tokens) as handle:
        tokens = [line.strip() for line in handle if line.strip()]
    engine = run_wrk if generator(args.generator) == "wrk" else run
    print(json.dumps(engine(url=args.url, method=args.method.upper(), tokens=tokens,
                            body=args.body, duration=args.duration,
                            concurrency=args.concurrency, warmup=args.warmup)))


if __name__ == "__main__":
    main()
