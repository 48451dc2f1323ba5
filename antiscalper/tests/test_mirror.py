"""The Redis mirror: what the gate sees follows the database after every commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from antiscalper import mirror, selectors, services
from antiscalper.mirror import BLACKLIST_KEYS, READY_KEY
from antiscalper.models import AllowlistEntry, BlacklistEntry
from antiscalper.tests.helpers import mirrored
from core import redis_client

committed = pytest.mark.django_db(transaction=True)


def test_the_mirror_has_one_set_per_kind_named_for_the_gate():
    assert BLACKLIST_KEYS == {kind: f"bl:{kind}" for kind in
                              ("account", "device", "ip", "phone", "address", "payment")}


@committed
def test_a_blacklisted_identity_reaches_the_mirror_only_when_its_transaction_commits():
    with transaction.atomic():
        services.blacklist_add(kind="device", value="bot-1")
        assert mirrored("device") == set()
    assert mirrored("device") == {"bot-1"}


@committed
def test_a_rolled_back_listing_never_reaches_the_mirror():
    with pytest.raises(RuntimeError), transaction.atomic():
        services.blacklist_add(kind="ip", value="10.9.9.9")
        raise RuntimeError("the request failed after the write")
    assert mirrored("ip") == set()
    assert not BlacklistEntry.objects.exists()


@committed
def test_every_change_to_an_entry_updates_the_mirror():
    entry, _ = services.blacklist_add(kind="account", value="42",
                                      expires_at=timezone.now() + timedelta(days=1))
    assert mirrored("account") == {"42"}
    services.blacklist_deactivate(entry_id=entry.pk)
    assert mirrored("account") == set()
    services.blacklist_activate(entry_id=entry.pk)
    assert mirrored("account") == {"42"}
    services.blacklist_extend(entry_id=entry.pk)
    assert mirrored("account") == {"42"}
    services.entry_delete(model=BlacklistEntry, entry_id=entry.pk)
    assert mirrored("account") == set()


@committed
def test_an_expired_entry_extended_again_returns_to_the_mirror():
    entry, _ = services.blacklist_add(kind="account", value="43",
                                      expires_at=timezone.now() + timedelta(seconds=30))
    BlacklistEntry.objects.filter(pk=entry.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    services.mirror_rebuild()
    assert mirrored("account") == set()
    services.blacklist_extend(entry_id=entry.pk)
    assert mirrored("account") == {"43"}


@committed
def test_an_allowlist_entry_overrides_the_blacklist_until_it_is_deactivated():
    services.blacklist_add(kind="phone", value="13800138000")
    cleared, _ = services.allowlist_add(kind="phone", value="138-0013-8000")
    assert mirrored("phone") == set()
    services.blacklist_add(kind="phone", value="13800138000", reason="listed again")
    assert mirrored("phone") == set()
    services.entry_deactivate(model=AllowlistEntry, entry_id=cleared.pk)
    assert mirrored("phone") == {"13800138000"}


def test_a_rebuild_leaves_out_expired_entries_and_keeps_the_rest(db):
    now = timezone.now()
    services.blacklist_add(kind="ip", value="10.0.0.1", expires_at=now + timedelta(hours=1))
    services.blacklist_add(kind="ip", value="10.0.0.2", expires_at=now + timedelta(days=2))
    services.blacklist_add(kind="ip", value="10.0.0.3")
    assert services.mirror_rebuild(now=now)["ip"] == 3
    sizes = services.mirror_rebuild(now=now + timedelta(hours=2))
    assert mirrored("ip") == {"10.0.0.2", "10.0.0.3"}
    assert sizes == {"account": 0, "device": 0, "ip": 2, "phone": 0, "address": 0,
                     "payment": 0}


def test_an_expired_allowlist_entry_stops_overriding_on_the_next_rebuild(db):
    now = timezone.now()
    services.blacklist_add(kind="device", value="d1")
    services.allowlist_add(kind="device", value="d1", expires_at=now + timedelta(days=1))
    services.mirror_rebuild(now=now)
    assert mirrored("device") == set()
    services.mirror_rebuild(now=now + timedelta(days=2))
    assert mirrored("device") == {"d1"}


def test_the_mirror_is_rebuilt_from_the_database_after_redis_is_lost(db, redis_client):
    services.blacklist_add(kind="account", value="1")
    services.blacklist_add(kind="address", value="1 Main Street|Beijing|100000")
    services.mirror_rebuild()
    redis_client.flushdb()
    assert mirror.mirror_ready() is False
    services.mirror_rebuild()
    assert mirror.mirror_ready() is True
    assert mirrored("account") == {"1"}
    assert mirrored("address") == {"1 main st|beijing|100000"}


@committed
def test_the_first_change_after_a_redis_loss_restores_the_whole_mirror(redis_client):
    services.blacklist_add(kind="account", value="1")
    redis_client.flushdb()
    services.blacklist_add(kind="device", value="d7")
    assert (mirrored("account"), mirrored("device")) == ({"1"}, {"d7"})
    assert redis_client.exists(READY_KEY)


def test_a_rebuild_swaps_whole_sets_and_leaves_no_temporary_keys(db, redis_client):
    services.mirror_rebuild()
    redis_client.sadd("bl:ip", "10.6.6.6")  # a stray member the database does not know
    services.blacklist_add(kind="ip", value="10.0.0.9")
    services.mirror_rebuild()
    assert mirrored("ip") == {"10.0.0.9"}
    assert sorted(k.decode() for k in redis_client.keys("bl:*")) == [
        "bl:ip", "bl:ready", "bl:version"]


@committed
def test_a_sync_that_read_the_database_before_a_newer_change_does_not_write_a_stale_answer(
        monkeypatch, redis_client):
    services.mirror_rebuild()
    entry, _ = services.blacklist_add(kind="device", value="d5")
    real = selectors.identity_blocked
    reads = []

    def racing_read(**kwargs):
        answer = real(**kwargs)
        if not reads:  # a deactivation commits and syncs between this read and the write
            BlacklistEntry.objects.filter(pk=entry.pk).update(is_active=False)
            redis_client.incr(mirror.VERSION_KEY)
        reads.append(answer)
        return answer

    monkeypatch.setattr(selectors, "identity_blocked", racing_read)
    assert mirror.mirror_sync(kind="device", value="d5") is False
    assert reads == [True, False]
    assert mirrored("device") == set()


def test_a_failing_redis_never_undoes_the_database_change(db, settings, on_commit):
    redis_client.connection.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    try:
        with on_commit():
            entry, _ = services.blacklist_add(kind="device", value="d8")
    finally:
        redis_client.connection.cache_clear()
    assert BlacklistEntry.objects.get(pk=entry.pk).is_active
