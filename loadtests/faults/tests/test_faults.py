"""The fault injectors do what they claim, against real redis-server processes."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from django.db import connection, connections

from loadtests import faults
from loadtests.faults import FrontDoor, RedisServer


@pytest.fixture
def server(tmp_path):
    with RedisServer(directory=tmp_path / "master") as started:
        yield started


def test_restarting_from_an_older_snapshot_loses_the_later_keys_and_changes_the_run_id(server):
    client = server.client()
    client.set("before", 1)
    snapshot = server.save()
    client.set("after", 2)
    run_id, port = server.run_id, server.port

    server.restart_from(snapshot)

    client = server.client()
    assert server.port == port
    assert client.get("before") == "1" and client.get("after") is None
    assert server.run_id != run_id


def test_stop_does_not_save_and_kill_leaves_the_last_snapshot(server):
    client = server.client()
    client.set("saved", 1)
    server.save()
    client.set("unsaved", 1)
    server.kill()
    assert not server.running
    server.start()
    assert server.client().get("saved") == "1" and server.client().get("unsaved") is None
    server.client().set("unsaved", 1)
    server.stop(nosave=True)
    server.start()
    assert server.client().get("unsaved") is None


def test_the_front_door_cuts_old_connections_at_a_switch_and_sends_new_ones_to_the_target(
        server, tmp_path):
    with RedisServer(directory=tmp_path / "other") as other, FrontDoor(server.address) as door:
        server.client().set("who", "first")
        other.client().set("who", "second")
        old = redis.Redis.from_url(door.url, decode_responses=True, socket_timeout=2,
                                   retry=None)
        assert old.get("who") == "first"
        held = old.connection_pool.get_connection()
        held.send_command("PING")
        assert held.read_response() in ("PONG", b"PONG", True)

        assert door.switch(other.address) >= 1

        held.send_command("PING")
        with pytest.raises(redis.ConnectionError):
            held.read_response()  # the connection open at the switch is gone
        old.connection_pool.release(held)
        fresh = redis.Redis.from_url(door.url, decode_responses=True, socket_timeout=2)
        assert fresh.get("who") == "second"
        door.switch(None)
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(door.url, socket_timeout=2, retry=None).ping()


def test_client_pause_blocks_commands_for_its_duration_then_lets_them_run(server):
    client = server.client()
    client.ping()
    server.pause(400)
    started = time.monotonic()
    assert client.set("k", 1)
    waited = time.monotonic() - started
    assert 0.3 <= waited < 2.0


@pytest.mark.slow
def test_a_paused_server_still_stops(server):
    server.pause(30_000)
    started = time.monotonic()
    server.stop()
    assert not server.running and time.monotonic() - started < 25


def test_a_promoted_lagging_replica_lacks_the_writes_made_after_it_fell_behind(server,
                                                                               tmp_path):
    replica = RedisServer.replica_of(server, directory=tmp_path / "replica")
    try:
        with FrontDoor(server.address) as door:
            app = redis.Redis.from_url(door.url, decode_responses=True, socket_timeout=2)
            app.set("early", 1)

            promotion = faults.promote_lagging_replica(
                master=server, door=door, replica=replica,
                writes_after_lag=lambda: app.set("late", 1))

            assert server.client().get("late") == "1"  # the write was acknowledged...
            after = redis.Redis.from_url(door.url, decode_responses=True, socket_timeout=2)
            assert after.get("early") == "1"
            assert after.get("late") is None             # ...and lost in the failover
            assert promotion.new_run_id != promotion.old_run_id
            assert promotion.new_replid != promotion.old_replid
            assert after.info("server")["run_id"] == replica.run_id
            assert after.set("writable", 1)  # the promoted replica takes writes
    finally:
        replica.kill()


def test_terminating_backends_is_a_no_op_on_sqlite_and_cuts_other_connections_on_postgres(
        transactional_db):
    if connection.vendor != "postgresql":
        assert faults.pg_terminate_backends() == 0
        return
    opened = threading.Event()
    release = threading.Event()
    errors: list[Exception] = []

    def other_connection() -> None:
        from django.db import connection as mine

        mine.ensure_connection()
        opened.set()
        release.wait(10)
        try:
            with mine.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as error:  # noqa: BLE001 - whichever the driver raises
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_connection)
    thread.start()
    assert opened.wait(10)
    assert faults.pg_terminate_backends() >= 1
    release.set()
    thread.join(10)
    assert errors, "the other connection survived"
    with connection.cursor() as cursor:  # ours was spared
        cursor.execute("SELECT 1")


@pytest.mark.slow
def test_a_celery_worker_starts_on_the_given_redis_and_dies_at_sigkill(server, tmp_path,
                                                                      transactional_db):
    worker = faults.CeleryWorker(redis_url=server.url, log_dir=tmp_path)
    with worker:
        assert worker.process.poll() is None
        worker.kill()
        assert worker.process.returncode == -9
