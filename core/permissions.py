"""Ops permissions: the token says who, the database says what they may do."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework.permissions import BasePermission


def staff_with(*perms: str) -> type[BasePermission]:
    """A DRF permission requiring an active staff user holding every one of `perms`.

    Ops endpoints are off the hot path, so one query for the user and permissions is fine.
    """

    class StaffWith(BasePermission):
        def has_permission(self, request, view) -> bool:
            if not request.user or not getattr(request.user, "id", None):
                return False
            user = get_user_model().objects.filter(pk=request.user.id, is_active=True).first()
            return bool(user and user.is_staff and user.has_perms(perms))

    StaffWith.__name__ = f"StaffWith({', '.join(perms)})"
    return StaffWith
