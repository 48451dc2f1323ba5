"""The periodic mirror rebuild task."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from antiscalper import services, tasks
from antiscalper.models import BlacklistEntry
from antiscalper.tests.helpers import mirrored


def test_the_periodic_rebuild_drops_entries_that_expired_since_the_last_one(db):
    entry, _ = services.blacklist_add(kind="device", value="d1",
                                      expires_at=timezone.now() + timedelta(minutes=5))
    services.blacklist_add(kind="device", value="d2")
    assert tasks.blacklist_mirror_rebuild()["device"] == 2
    BlacklistEntry.objects.filter(pk=entry.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.blacklist_mirror_rebuild.apply().get() == {
        "account": 0, "device": 1, "ip": 0, "phone": 0, "address": 0, "payment": 0}
    assert mirrored("device") == {"d2"}
