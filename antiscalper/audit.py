"""The audit trail: every list and appeal change is an admin LogEntry naming who did it.

Using Django's own LogEntry means changes made through the API, the admin, imports and
appeals all show up in one place (the admin's history pages and "recent actions").
Changes without a person behind them (a risk rule, a scheduled task) go to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db import models

logger = logging.getLogger("antiscalper.audit")

ADDED, CHANGED, DELETED = ADDITION, CHANGE, DELETION


def audit(*, actor_id: int | None, objects: Iterable[models.Model], action: int,
          message: str) -> None:
    """Record `message` about `objects` as done by `actor_id` (in the caller's transaction)."""
    objects = list(objects)
    if not objects:
        return
    if actor_id is None:
        for obj in objects:
            logger.info("system %s %s: %s", action, obj, message)
        return
    LogEntry.objects.log_actions(user_id=actor_id, queryset=objects, action_flag=action,
                                 change_message=message)
