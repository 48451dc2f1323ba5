"""The embedded redis-server: started on demand, shared by later processes, stopped by its owner."""

from __future__ import annotations

import subprocess
import sys

import redis

from config import embedded_redis


def test_the_embedded_server_starts_on_demand_and_its_owner_stops_it(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded_redis, "_owned", None)
    url = embedded_redis.ensure(tmp_path)
    client = redis.Redis.from_url(url)
    assert client.ping()
    server = embedded_redis._owned
    assert server is not None and server.poll() is None

    embedded_redis.shutdown()

    assert server.poll() is not None
    assert not (tmp_path / "redis.sock").exists()


def test_a_second_process_reuses_the_running_server_without_owning_it(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded_redis, "_owned", None)
    url = embedded_redis.ensure(tmp_path)
    redis.Redis.from_url(url).set("left-by", "owner")
    child = subprocess.run(
        [sys.executable, "-c",
         "import sys, redis; from config import embedded_redis as e; "
         f"u = e.ensure({str(tmp_path)!r}); "
         "print(redis.Redis.from_url(u).get('left-by').decode(), e._owned is None)"],
        capture_output=True, text=True, check=True,
    )
    assert child.stdout.split() == ["owner", "True"]
    assert redis.Redis.from_url(url).ping()  # the child's exit did not stop it
    embedded_redis.shutdown()
