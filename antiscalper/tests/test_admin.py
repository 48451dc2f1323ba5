"""Ops admin: lists with filters, bulk actions and forms that go through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.utils import timezone

from antiscalper import services
from antiscalper.appeals import appeal_submit
from antiscalper.models import AllowlistEntry, Appeal, BlacklistEntry, Source
from antiscalper.tests.helpers import mirrored

URL = "/admin/antiscalper/blacklistentry/"


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def entries(db):
    now = timezone.now()
    live, _ = services.blacklist_add(kind="ip", value="10.1.1.1", reason="scraper")
    expiring, _ = services.blacklist_add(kind="device", value="dev-soon",
                                         expires_at=now + timedelta(hours=1))
    ruled, _ = services.blacklist_add(kind="phone", value="13900000000", source=Source.RULE)
    BlacklistEntry.objects.filter(pk=expiring.pk).update(expires_at=now - timedelta(hours=1))
    return {"live": live, "expired": expiring, "ruled": ruled}


def act(client, url: str, action: str, *objects) -> list[str]:
    response = client.post(url, {"action": action, "index": 0,
                                 ACTION_CHECKBOX_NAME: [o.pk for o in objects]})
    assert response.status_code == 302
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_blacklist_changelist_shows_its_columns(admin, entries):
    html = admin.get(URL).content.decode()
    for text in ("10.1.1.1", "scraper", "dev-soon", "13900000000", "Risk rule", "expired"):
        assert text in html


@pytest.mark.parametrize(("query", "shown", "hidden"), [
    ("kind__exact=ip", "10.1.1.1", "dev-soon"),
    ("source__exact=rule", "13900000000", "10.1.1.1"),
    ("expired=yes", "dev-soon", "10.1.1.1"),
    ("expired=no", "10.1.1.1", "dev-soon"),
    ("q=scrap", "10.1.1.1", "13900000000"),
])
def test_the_blacklist_filters_and_searches(admin, entries, query, shown, hidden):
    html = admin.get(f"{URL}?{query}").content.decode()
    assert shown in html and hidden not in html


def test_the_active_filter_separates_lifted_entries(admin, entries):
    services.blacklist_deactivate(entry_id=entries["live"].pk)
    assert "10.1.1.1" in admin.get(f"{URL}?is_active__exact=0").content.decode()
    assert "10.1.1.1" not in admin.get(f"{URL}?is_active__exact=1").content.decode()


def test_bulk_deactivate_and_activate_go_through_the_services(admin, admin_user, entries,
                                                              on_commit):
    with on_commit():
        messages = act(admin, URL, "deactivate", entries["live"], entries["ruled"])
    assert "Deactivated 2 entries." in messages
    assert not BlacklistEntry.objects.filter(is_active=True, kind__in=["ip", "phone"]).exists()
    assert mirrored("ip") == set()
    with on_commit():
        messages = act(admin, URL, "activate", entries["live"], entries["expired"])
    assert "Activated 1 entry." in messages
    assert any(m.startswith("1 entry unchanged") for m in messages)
    assert mirrored("ip") == {"10.1.1.1"}
    assert LogEntry.objects.filter(user=admin_user).count() == 3


def test_bulk_extend_adds_thirty_days_to_entries_that_expire(admin, entries):
    before = timezone.now()
    messages = act(admin, URL, "extend", entries["expired"], entries["live"])
    assert "Extended 1 entry." in messages
    entries["expired"].refresh_from_db()
    assert entries["expired"].expires_at >= before + timedelta(days=30)


def test_adding_in_the_admin_normalises_and_mirrors(admin, admin_user, on_commit):
    with on_commit():
        response = admin.post(f"{URL}add/", {"kind": "phone", "value": "139 0000-1111",
                                             "reason": "reseller", "expires_at_0": "",
                                             "expires_at_1": ""})
    assert response.status_code == 302
    entry = BlacklistEntry.objects.get()
    assert (entry.value, entry.source, entry.created_by_id) == ("13900001111", Source.MANUAL,
                                                                admin_user.pk)
    assert mirrored("phone") == {"13900001111"}
    assert LogEntry.objects.filter(object_id=str(entry.pk)).count() == 1


def test_a_bad_value_in_the_add_form_is_shown_on_the_field(admin):
    response = admin.post(f"{URL}add/", {"kind": "ip", "value": "999.1.1.1", "reason": "",
                                         "expires_at_0": "", "expires_at_1": ""})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["value"] == [
        "Enter a single IPv4 or IPv6 address."]
    assert not BlacklistEntry.objects.exists()


def test_the_change_form_edits_reason_and_deactivates(admin, entries, on_commit):
    entry = entries["live"]
    with on_commit():
        response = admin.post(f"{URL}{entry.pk}/change/", {
            "reason": "scraper farm", "expires_at_0": "", "expires_at_1": ""})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.reason, entry.is_active, entry.value) == ("scraper farm", False, "10.1.1.1")
    assert mirrored("ip") == set()


def test_deleting_in_the_admin_takes_the_identity_out_of_the_mirror(admin, entries,
                                                                    on_commit):
    with on_commit():
        services.mirror_rebuild()
        assert "10.1.1.1" in mirrored("ip")
        response = admin.post(URL, {"action": "delete_selected", "post": "yes",
                                    ACTION_CHECKBOX_NAME: [entries["live"].pk]})
    assert response.status_code == 302
    assert not BlacklistEntry.objects.filter(pk=entries["live"].pk).exists()
    assert mirrored("ip") == set()


def test_the_allowlist_admin_adds_through_the_services(admin, entries, on_commit):
    services.mirror_rebuild()
    with on_commit():
        response = admin.post("/admin/antiscalper/allowlistentry/add/", {
            "kind": "ip", "value": "10.1.1.1", "reason": "a school's NAT",
            "expires_at_0": "", "expires_at_1": ""})
    assert response.status_code == 302
    assert AllowlistEntry.objects.get().value == "10.1.1.1"
    assert mirrored("ip") == set()


@pytest.fixture
def appeals(make_customer):
    first, second = make_customer(), make_customer()
    services.blacklist_add(kind="account", value=str(first.user_id))
    services.blacklist_add(kind="account", value=str(second.user_id))
    return [appeal_submit(user_id=c.user_id, message="I am a fan")[0]
            for c in (first, second)]


def test_upholding_in_the_admin_clears_the_account(admin, admin_user, appeals, on_commit):
    with on_commit():
        messages = act(admin, "/admin/antiscalper/appeal/", "uphold", appeals[0])
    assert "Upheld 1 appeal(s)." in messages
    appeals[0].refresh_from_db()
    assert (appeals[0].status, appeals[0].handled_by_id) == (Appeal.Status.UPHELD,
                                                             admin_user.pk)
    assert mirrored("account") == {appeals[1].value}
    assert "Upheld 0 appeal(s)." in act(admin, "/admin/antiscalper/appeal/", "uphold",
                                        appeals[0])


def test_rejecting_in_the_admin_keeps_the_account_blocked(admin, appeals):
    messages = act(admin, "/admin/antiscalper/appeal/", "reject", *appeals)
    assert "Rejected 2 appeal(s)." in messages
    assert set(Appeal.objects.values_list("status", flat=True)) == {Appeal.Status.REJECTED}
    assert BlacklistEntry.objects.filter(is_active=True).count() == 2


def test_appeals_are_listed_and_cannot_be_added_in_the_admin(admin, appeals):
    assert appeals[0].value in admin.get("/admin/antiscalper/appeal/").content.decode()
    assert admin.get("/admin/antiscalper/appeal/add/").status_code == 403


def test_a_viewer_with_the_export_permission_can_export_but_not_import(client, make_staff,
                                                                       entries):
    client.force_login(make_staff("antiscalper.view_blacklistentry",
                                  "antiscalper.export_blacklistentry"))
    assert client.get(URL).status_code == 200
    assert client.get(f"{URL}export/").status_code == 200
    assert client.get(f"{URL}import/").status_code == 403


def test_a_view_only_user_cannot_export(client, make_staff, entries):
    client.force_login(make_staff("antiscalper.view_blacklistentry"))
    assert client.get(URL).status_code == 200
    assert client.get(f"{URL}export/").status_code == 403


def test_an_entry_page_shows_identity_read_only_and_deletes_through_the_services(
        admin, entries, on_commit):
    entry = entries["ruled"]
    html = admin.get(f"{URL}{entry.pk}/change/").content.decode()
    assert 'name="reason"' in html and 'name="value"' not in html
    services.mirror_rebuild()
    with on_commit():
        response = admin.post(f"{URL}{entry.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not BlacklistEntry.objects.filter(pk=entry.pk).exists()
    assert mirrored("phone") == set()
