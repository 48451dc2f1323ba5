"""CSV export and import of the blacklist: normalised, audited, mirrored, repeatable."""

from __future__ import annotations

from datetime import timedelta

import pytest
import tablib
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from antiscalper import services
from antiscalper.models import BlacklistEntry, Source
from antiscalper.resources import BlacklistEntryResource
from antiscalper.tests.helpers import mirrored

HEADER = "kind,value,reason,expires_at\n"


def import_csv(text: str, *, user=None, dry_run: bool = False):
    dataset = tablib.Dataset().load(text, format="csv")
    return BlacklistEntryResource().import_data(dataset, dry_run=dry_run, user=user)


def test_an_export_has_one_row_per_entry_with_iso_times(admin_user):
    until = timezone.now() + timedelta(days=3)
    services.blacklist_add(kind="ip", value="10.0.0.1", expires_at=until,
                           actor_id=admin_user.pk)
    services.blacklist_add(kind="phone", value="138 0013 8000", reason="reseller")
    dataset = BlacklistEntryResource().export()
    assert dataset.headers == ["id", "kind", "value", "reason", "expires_at", "source",
                               "is_active", "created_by", "created_at"]
    rows = {row["kind"]: row for row in dataset.dict}
    assert rows["ip"]["expires_at"] == timezone.localtime(until).isoformat()
    assert rows["ip"]["created_by"] == admin_user.username
    assert (rows["phone"]["value"], rows["phone"]["expires_at"]) == ("13800138000", "")


def test_importing_normalises_values_and_marks_the_source(admin_user, on_commit):
    text = HEADER + "phone,+86 138-0013-8000,reseller,\ndevice, dev-9 ,bot farm,\n"
    with on_commit():
        result = import_csv(text, user=admin_user)
    assert not result.has_errors() and not result.has_validation_errors()
    rows = set(BlacklistEntry.objects.values_list("kind", "value", "source", "created_by"))
    assert rows == {("phone", "+8613800138000", Source.IMPORT, admin_user.pk),
                    ("device", "dev-9", Source.IMPORT, admin_user.pk)}
    assert (mirrored("phone"), mirrored("device")) == ({"+8613800138000"}, {"dev-9"})
    assert LogEntry.objects.filter(user=admin_user).count() == 2


def test_exporting_and_importing_again_changes_nothing(admin_user, on_commit):
    services.blacklist_add(kind="ip", value="10.0.0.1",
                           expires_at=timezone.now() + timedelta(days=3))
    gone, _ = services.blacklist_add(kind="ip", value="10.0.0.2")
    services.blacklist_deactivate(entry_id=gone.pk)
    before = list(BlacklistEntry.objects.values().order_by("pk"))
    csv = BlacklistEntryResource().export().csv
    with on_commit():
        result = import_csv(csv, user=admin_user)
    assert result.totals["skip"] == 2
    assert (result.totals["new"], result.totals["update"]) == (0, 0)
    assert list(BlacklistEntry.objects.values().order_by("pk")) == before


def test_an_export_imported_into_an_empty_store_restores_the_active_entries(admin_user,
                                                                          on_commit):
    until = timezone.now() + timedelta(days=3)
    services.blacklist_add(kind="ip", value="10.0.0.1", expires_at=until, reason="scraper")
    services.blacklist_add(kind="account", value="77")
    csv = BlacklistEntryResource().export().csv
    BlacklistEntry.objects.all().delete()
    with on_commit():
        result = import_csv(csv, user=admin_user)
    assert result.totals["new"] == 2
    restored = set(BlacklistEntry.objects.values_list("kind", "value", "reason", "expires_at"))
    assert restored == {("ip", "10.0.0.1", "scraper", until), ("account", "77", "", None)}
    assert (mirrored("ip"), mirrored("account")) == ({"10.0.0.1"}, {"77"})


def test_a_row_for_a_listed_identity_lengthens_its_entry_and_never_shortens_it(admin_user):
    now = timezone.now()
    entry, _ = services.blacklist_add(kind="device", value="d1",
                                      expires_at=now + timedelta(days=5))
    shorter = (now + timedelta(days=1)).isoformat()
    longer = (now + timedelta(days=9)).isoformat()
    assert import_csv(HEADER + f"device,d1,,{shorter}\n", user=admin_user).totals["skip"] == 1
    assert import_csv(HEADER + f"device,d1,again,{longer}\n", user=admin_user) \
        .totals["update"] == 1
    entry.refresh_from_db()
    assert (entry.expires_at, entry.reason) == (now + timedelta(days=9), "again")
    assert BlacklistEntry.objects.count() == 1


def test_bad_rows_are_reported_and_nothing_is_imported(admin_user):
    text = HEADER + "ip,10.0.0.300,typo,\nemail,a@b.c,,\nip,10.0.0.4,fine,\n"
    result = import_csv(text, user=admin_user)
    assert result.has_validation_errors()
    assert [row.number for row in result.invalid_rows] == [1, 2]
    assert "value" in result.invalid_rows[0].error_dict
    assert not BlacklistEntry.objects.filter(value="10.0.0.300").exists()


def test_a_dry_run_writes_nothing(admin_user, on_commit):
    with on_commit():
        result = import_csv(HEADER + "ip,10.0.0.5,,\n", user=admin_user, dry_run=True)
    assert result.totals["new"] == 1
    assert not BlacklistEntry.objects.exists()
    assert mirrored("ip") == set()


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_admin_imports_a_csv_after_a_confirmation_step(admin, admin_user):
    upload = SimpleUploadedFile("bl.csv", (HEADER + "ip,10.0.0.6,admin import,\n").encode())
    preview = admin.post("/admin/antiscalper/blacklistentry/import/",
                         {"format": "0", "import_file": upload, "resource": "0"})
    assert preview.status_code == 200
    assert not BlacklistEntry.objects.exists()
    confirm = preview.context["confirm_form"].initial
    response = admin.post("/admin/antiscalper/blacklistentry/process_import/", confirm)
    assert response.status_code == 302
    entry = BlacklistEntry.objects.get()
    assert (entry.value, entry.source, entry.created_by_id) == ("10.0.0.6", Source.IMPORT,
                                                                admin_user.pk)
    assert LogEntry.objects.filter(object_id=str(entry.pk)).count() == 1


def test_the_admin_exports_a_csv(admin):
    services.blacklist_add(kind="ip", value="10.0.0.7")
    response = admin.post("/admin/antiscalper/blacklistentry/export/",
                          {"format": "0", "resource": "0",
                           **{f"blacklistentryresource_{name}": "on" for name in
                              ("id", "kind", "value", "reason", "expires_at")}})
    assert response.status_code == 200
    assert "10.0.0.7" in response.content.decode()
