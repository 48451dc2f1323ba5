"""Fixtures for the anti-scalper tests: staff with given permissions, after-commit runs."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from shop.tests.fixtures import client_for

_staff = itertools.count(1)


@pytest.fixture
def make_staff(db):
    """A staff user holding exactly the given `app_label.codename` permissions."""

    def make(*perms: str, **fields):
        user = get_user_model().objects.create_user(
            f"ops{next(_staff)}", password="ops-Long-password-1", is_staff=True, **fields)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(Permission.objects.get(
                content_type__app_label=app_label, codename=codename))
        return user

    return make


@pytest.fixture
def ops_user(make_staff):
    return make_staff("antiscalper.view_blacklistentry", "antiscalper.add_blacklistentry",
                      "antiscalper.change_blacklistentry")


@pytest.fixture
def ops_api(ops_user):
    """An API client of a staff user allowed to read, add and change blacklist entries."""
    return client_for(ops_user)


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """`with on_commit():` runs the block's after-commit callbacks (the mirror updates)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
