"""Celery queues by role (settings.CELERY_ROLES): every task the project defines is routed to
exactly one role's queue, and each worker the stack starts serves one role only."""

from __future__ import annotations

import pytest
from celery import current_app
from django.conf import settings

from loadtests.stack import Stack

PROJECT_APPS = ("sales.", "antiscalper.", "shop.", "loadtests.", "core.")


def _project_tasks() -> set[str]:
    current_app.loader.import_default_modules()  # autodiscovery: every app's tasks module
    return {name for name in current_app.tasks if name.startswith(PROJECT_APPS)}


def test_every_project_task_has_exactly_one_role():
    routed = [task for tasks in settings.CELERY_ROLES.values() for task in tasks]
    assert len(routed) == len(set(routed)), "a task is in two roles"
    assert _project_tasks() == set(routed)


@pytest.mark.parametrize("role", sorted(settings.CELERY_ROLES))
def test_the_router_sends_each_task_to_its_roles_queue(role):
    for task in settings.CELERY_ROLES[role]:
        assert current_app.amqp.router.route({}, task)["queue"].name == role, task


def test_every_periodic_task_goes_to_a_roles_queue():
    routes = settings.CELERY_TASK_ROUTES
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in routes, entry["task"]


def test_the_stack_starts_a_worker_per_role_and_none_serves_two():
    workers = Stack(celery_workers=2).celery_roles()
    queues = [queue for _, queue, _ in workers]
    assert sorted(set(queues)) == sorted(settings.CELERY_ROLES)
    assert queues.count("pipeline") == 2 and all("," not in q for q in queues)
    assert [name for name, queue, _ in workers if queue == "pipeline"] == ["worker-0", "worker-1"]
    assert Stack(celery_workers=0).celery_roles() == []
