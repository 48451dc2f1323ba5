"""Every periodic task in the beat schedule names a task the workers know: a rename that
forgot the schedule would otherwise stop the preloading, the pipeline or the expiries
silently."""

from django.conf import settings

from config.celery import app


def test_every_scheduled_task_is_registered_with_the_workers():
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled and scheduled <= set(app.tasks)
