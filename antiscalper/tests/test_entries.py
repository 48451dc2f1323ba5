"""Listing identities: one active entry per identity, conditional changes, an audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.utils import timezone

from antiscalper import appeals, services
from antiscalper.models import AllowlistEntry, BlacklistEntry, Source
from antiscalper.tests.helpers import mirrored
from core.errors import DomainError
from shop.tests.helpers import run_together


@pytest.fixture
def actor(make_staff):
    return make_staff()


def log_of(entry) -> list[tuple[int, int, str]]:
    rows = LogEntry.objects.filter(object_id=str(entry.pk),
                                   content_type__model=type(entry)._meta.model_name)
    return [(row.user_id, row.action_flag, row.change_message) for row in rows.order_by("pk")]


def test_an_entry_stores_the_normalised_value_and_who_added_it(actor):
    entry, created = services.blacklist_add(kind="phone", value="138 0013-8000",
                                            reason="resold 40 phones", actor_id=actor.pk)
    assert created
    assert (entry.kind, entry.value, entry.source, entry.created_by_id, entry.is_active) == (
        "phone", "13800138000", Source.MANUAL, actor.pk, True)
    assert log_of(entry) == [(actor.pk, ADDITION, "Added (manual): resold 40 phones.")]


def test_listing_a_listed_identity_keeps_one_entry_with_the_longer_expiry(actor):
    soon = timezone.now() + timedelta(days=1)
    later = timezone.now() + timedelta(days=9)
    first, _ = services.blacklist_add(kind="device", value="d1", expires_at=later)
    again, created = services.blacklist_add(kind="device", value="d1", expires_at=soon,
                                            reason="seen again", actor_id=actor.pk)
    assert (created, again.pk, again.expires_at, again.reason) == (False, first.pk, later,
                                                                   "seen again")
    forever, _ = services.blacklist_add(kind="device", value="d1")
    assert forever.pk == first.pk
    assert BlacklistEntry.objects.get().expires_at is None


def test_an_expired_active_entry_is_retired_when_the_identity_is_listed_again(actor):
    now = timezone.now()
    old, _ = services.blacklist_add(kind="ip", value="10.0.0.1",
                                    expires_at=now + timedelta(hours=1))
    new, created = services.blacklist_add(kind="ip", value="10.0.0.1", actor_id=actor.pk,
                                          now=now + timedelta(hours=2))
    old.refresh_from_db()
    assert created and new.pk != old.pk
    assert old.is_active is False


def test_an_expiry_in_the_past_is_refused(db):
    with pytest.raises(DomainError) as refused:
        services.blacklist_add(kind="ip", value="10.0.0.1",
                               expires_at=timezone.now() - timedelta(seconds=1))
    assert refused.value.details == {"expires_at": ["must be in the future"]}
    assert not BlacklistEntry.objects.exists()


def test_deactivating_and_activating_happen_once_each(actor):
    entry, _ = services.blacklist_add(kind="account", value="7")
    assert services.blacklist_deactivate(entry_id=entry.pk, actor_id=actor.pk) is True
    assert services.blacklist_deactivate(entry_id=entry.pk, actor_id=actor.pk) is False
    assert services.blacklist_activate(entry_id=entry.pk, actor_id=actor.pk) is True
    assert services.blacklist_activate(entry_id=entry.pk, actor_id=actor.pk) is False
    assert [flag for _, flag, _ in log_of(entry)] == [CHANGE, CHANGE]


def test_an_old_entry_is_not_reactivated_beside_a_newer_active_one(db):
    old, _ = services.blacklist_add(kind="account", value="7")
    services.blacklist_deactivate(entry_id=old.pk)
    services.blacklist_add(kind="account", value="7", reason="again")
    assert services.blacklist_activate(entry_id=old.pk) is False
    assert BlacklistEntry.objects.filter(is_active=True).count() == 1


def test_extending_pushes_the_expiry_from_the_later_of_now_and_the_old_expiry(actor):
    now = timezone.now()
    entry, _ = services.blacklist_add(kind="ip", value="10.0.0.2",
                                      expires_at=now + timedelta(days=2), now=now)
    assert services.blacklist_extend(entry_id=entry.pk, actor_id=actor.pk, now=now)
    entry.refresh_from_db()
    assert entry.expires_at == now + timedelta(days=32)
    assert services.blacklist_extend(entry_id=entry.pk, now=now + timedelta(days=40))
    entry.refresh_from_db()
    assert entry.expires_at == now + timedelta(days=70)


def test_an_entry_that_never_expires_is_not_extended(db):
    entry, _ = services.blacklist_add(kind="ip", value="10.0.0.3")
    assert services.blacklist_extend(entry_id=entry.pk) is False
    entry.refresh_from_db()
    assert entry.expires_at is None


def test_changing_an_unknown_entry_is_not_found(db):
    with pytest.raises(DomainError) as refused:
        services.blacklist_deactivate(entry_id=999999)
    assert refused.value.code == "not_found"


def test_deleting_is_audited_before_the_row_goes(actor):
    entry, _ = services.allowlist_add(kind="device", value="d9")
    pk = entry.pk
    assert services.entry_delete(model=AllowlistEntry, entry_id=pk, actor_id=actor.pk)
    assert not AllowlistEntry.objects.filter(pk=pk).exists()
    assert log_of(entry)[-1] == (actor.pk, DELETION, "Deleted.")
    assert services.entry_delete(model=AllowlistEntry, entry_id=pk) is False


def test_editing_sets_reason_and_expiry_and_reports_no_change_as_false(actor):
    entry, _ = services.blacklist_add(kind="device", value="d2", reason="bot")
    until = timezone.now() + timedelta(days=3)
    assert services.entry_edit(model=BlacklistEntry, entry_id=entry.pk, reason="bot farm",
                               expires_at=until, actor_id=actor.pk)
    assert services.entry_edit(model=BlacklistEntry, entry_id=entry.pk, reason="bot farm",
                               expires_at=until) is False
    entry.refresh_from_db()
    assert (entry.reason, entry.expires_at) == ("bot farm", until)


def test_writes_without_a_person_are_not_in_the_admin_log(db):
    services.blacklist_add(kind="device", value="d3", source=Source.RULE)
    assert not LogEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_ops_listing_the_same_identity_at_once_leave_one_active_entry():
    results = run_together(*[lambda: services.blacklist_add(kind="ip", value="10.7.7.7")] * 4)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({entry.pk for entry, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert BlacklistEntry.objects.filter(is_active=True).count() == 1
    assert mirrored("ip") == {"10.7.7.7"}


@pytest.mark.django_db(transaction=True)
def test_two_ops_handling_one_appeal_at_once_handle_it_once(make_customer):
    customer = make_customer()
    appeal, _ = appeals.appeal_submit(user_id=customer.user_id, message="fan")
    results = run_together(lambda: appeals.appeal_uphold(appeal_id=appeal.pk),
                           lambda: appeals.appeal_reject(appeal_id=appeal.pk))
    assert sorted(results) == [False, True]
