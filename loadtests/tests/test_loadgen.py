"""Both load generators measure the same way: statuses, latencies and every answered request."""

from __future__ import annotations

import shutil
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from loadtests import loadgen


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _app(environ, start_response):
    teapot = environ.get("HTTP_AUTHORIZATION") == "Bearer t2"
    start_response("418 I'm a teapot" if teapot else "200 OK", [("Content-Length", "2")])
    return [b"{}"]


@pytest.fixture
def server():
    httpd = make_server("127.0.0.1", 0, _app, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/x"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["gevent", "wrk"])
def test_each_generator_counts_statuses_and_rotates_the_tokens(engine, server):
    if engine == "wrk" and not shutil.which("wrk"):
        pytest.skip("wrk is not installed")
    run = loadgen.run_wrk if engine == "wrk" else loadgen.run
    result = run(url=server, method="POST", tokens=["t1", "t2"], body="{}", duration=1,
                 concurrency=2, warmup=1)
    statuses = result["statuses"]
    assert set(statuses) == {"200", "418"} and abs(statuses["200"] - statuses["418"]) <= 4
    assert result["requests"] == sum(statuses.values()) and result["rps"] > 0
    assert result["answered_all"] > result["requests"] and result["generator"] == engine
    assert 0 < result["p50_ms"] <= result["p99_ms"]
