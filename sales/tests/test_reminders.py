""""Remind me" (开售提醒, issue 18): a shopper asks once, however often the button is pressed;
never for a sale that has opened; only one's own can be cancelled; and each reminder is
texted once per opening, a few minutes before it, in the shopper's language, whatever the
number of senders racing and even when one dies mid-batch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from antiscalper import services as antiscalper
from core.errors import DomainError
from sales import selectors, services, tasks
from sales.gate.admission import Purchase
from sales.models import FlashSale, Reminder
from shop import sms
from shop.tests.helpers import run_together

LEAD = timedelta(minutes=5)


def _texts_to(outbox, customer) -> list[str]:
    return [text.message for text in outbox if text.phone == customer.phone]


@pytest.fixture
def upcoming(make_sale):
    """A sale opening in an hour (its gate not loaded yet, so it may still be moved)."""
    return make_sale(starts_in=3600, load=False)


@pytest.mark.django_db
def test_pressing_remind_me_twice_leaves_one_reminder(upcoming, customer):
    first, created = services.reminder_set(sale_id=upcoming.pk, user_id=customer.user_id)
    again, created_again = services.reminder_set(sale_id=upcoming.pk, user_id=customer.user_id)
    assert (created, created_again) == (True, False) and first.pk == again.pk
    assert Reminder.objects.filter(sale=upcoming).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("when", ["live", "sold_out", "ended"])
def test_no_reminder_is_set_for_a_sale_that_has_opened(when, make_sale, customer,
                                                       make_customer):
    sale = make_sale(stock=1, starts_in=-7200 if when == "ended" else -1,
                     lasts=3600 if when == "ended" else 7200)
    if when == "sold_out":
        services.purchase_admit(purchase=Purchase(
            sale_id=sale.pk, user_id=make_customer().user_id, quantity=1))
    with pytest.raises(DomainError) as refused:
        services.reminder_set(sale_id=sale.pk, user_id=customer.user_id)
    assert refused.value.code == "already_open" and refused.value.status == 409
    assert refused.value.details["starts_at"] == sale.starts_at.isoformat()
    assert not Reminder.objects.exists()


@pytest.mark.django_db
def test_an_unknown_sale_is_not_found_for_setting_or_cancelling(customer):
    for call in (services.reminder_set, services.reminder_cancel):
        with pytest.raises(DomainError) as missing:
            call(sale_id=987654, user_id=customer.user_id)
        assert missing.value.code == "not_found"


@pytest.mark.django_db
def test_another_shopper_cannot_cancel_my_reminder(upcoming, make_customer):
    me, other = make_customer(), make_customer()
    services.reminder_set(sale_id=upcoming.pk, user_id=me.user_id)
    assert services.reminder_cancel(sale_id=upcoming.pk, user_id=other.user_id) is False
    assert Reminder.objects.filter(sale=upcoming, user_id=me.user_id).exists()
    assert services.reminder_cancel(sale_id=upcoming.pk, user_id=me.user_id) is True
    assert services.reminder_cancel(sale_id=upcoming.pk, user_id=me.user_id) is False
    assert not Reminder.objects.filter(cancelled_at__isnull=True).exists()  # kept, cancelled


@pytest.mark.django_db
def test_an_account_without_a_phone_cannot_be_reminded(upcoming, superuser):
    with pytest.raises(DomainError) as missing:
        services.reminder_set(sale_id=upcoming.pk, user_id=superuser.pk)
    assert missing.value.code == "not_found" and not Reminder.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_presses_at_the_same_moment_make_one_reminder(upcoming, customer):
    results = run_together(*[lambda: services.reminder_set(
        sale_id=upcoming.pk, user_id=customer.user_id) for _ in range(4)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(created for _reminder, created in results) == 1
    assert Reminder.objects.filter(sale=upcoming).count() == 1


# ---- sending ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_reminder_is_texted_once_within_the_lead_and_not_before(
        upcoming, customer, sms_outbox):
    services.reminder_set(sale_id=upcoming.pk, user_id=customer.user_id, language="en")
    early = upcoming.starts_at - LEAD - timedelta(seconds=30)
    assert services.reminders_send_due(now=early) == 0 and sms_outbox == []
    due = upcoming.starts_at - LEAD + timedelta(seconds=10)
    assert services.reminders_send_due(now=due) == 1
    assert services.reminders_send_due(now=due + timedelta(seconds=30)) == 0
    assert services.reminders_send_due(now=upcoming.starts_at) == 0
    [text] = _texts_to(sms_outbox, customer)
    assert upcoming.title in text and "goes on sale at" in text
    reminder = Reminder.objects.get()
    assert reminder.sent_at == due and reminder.sent_for == upcoming.starts_at


@pytest.mark.django_db
def test_the_text_is_in_the_shoppers_language_and_in_chinese_when_not_known(
        upcoming, make_customer, sms_outbox):
    english, unknown, chinese = make_customer(), make_customer(), make_customer()
    services.reminder_set(sale_id=upcoming.pk, user_id=english.user_id, language="en")
    services.reminder_set(sale_id=upcoming.pk, user_id=unknown.user_id, language="klingon")
    services.reminder_set(sale_id=upcoming.pk, user_id=chinese.user_id, language="zh-hans")
    services.reminders_send_due(now=upcoming.starts_at - timedelta(minutes=1))
    local = timezone.localtime(upcoming.starts_at)
    [en] = _texts_to(sms_outbox, english)
    assert f"{local.day} {local:%b} {local:%H:%M}" in en and upcoming.title in en
    for customer in (unknown, chinese):
        [zh] = _texts_to(sms_outbox, customer)
        assert f"{local.month}月{local.day}日 {local:%H:%M}" in zh and "开售" in zh


@pytest.mark.django_db
def test_a_reminder_missed_long_after_the_opening_is_dropped(upcoming, customer, sms_outbox):
    services.reminder_set(sale_id=upcoming.pk, user_id=customer.user_id)
    assert services.reminders_send_due(now=upcoming.starts_at + timedelta(minutes=6)) == 0
    assert sms_outbox == [] and Reminder.objects.get().sent_at is None


@pytest.mark.django_db
def test_a_rescheduled_sale_is_announced_at_its_new_time(upcoming, customer, sms_outbox):
    services.reminder_set(sale_id=upcoming.pk, user_id=customer.user_id, language="en")
    old = upcoming.starts_at
    later = old + timedelta(hours=2)
    services.sale_update(sale_id=upcoming.pk, starts_at=later, ends_at=later + timedelta(hours=1))
    assert services.reminders_send_due(now=old - timedelta(minutes=1)) == 0  # the old time
    assert services.reminders_send_due(now=later - timedelta(minutes=2)) == 1
    # Moved again after the text went: the shopper hears of the new time, once.
    again = later + timedelta(hours=1)
    services.sale_update(sale_id=upcoming.pk, starts_at=again, ends_at=again + timedelta(hours=1))
    assert services.reminders_send_due(now=later - timedelta(minutes=1)) == 0
    assert services.reminders_send_due(now=again - timedelta(minutes=3)) == 1
    assert services.reminders_send_due(now=again - timedelta(minutes=2)) == 0
    first, second = _texts_to(sms_outbox, customer)
    assert timezone.localtime(later).strftime("%H:%M") in first
    assert timezone.localtime(again).strftime("%H:%M") in second


@pytest.mark.django_db
def test_a_text_for_an_opening_the_sale_left_is_not_shown_as_sent(upcoming, customer,
                                                                  sms_outbox):
    """The API's `sent_at` is this opening's text: after a move it is null until the new
    one goes out (docs/api.md: 'when it went, null until then')."""
    services.reminder_set(sale_id=upcoming.pk, user_id=customer.user_id)
    services.reminders_send_due(now=upcoming.starts_at - timedelta(minutes=1))
    shown = selectors.reminder_of(sale_id=upcoming.pk, user_id=customer.user_id)
    assert shown["sent_at"] is not None
    later = upcoming.starts_at + timedelta(hours=2)
    services.sale_update(sale_id=upcoming.pk, starts_at=later, ends_at=later + timedelta(hours=1))
    shown = selectors.reminder_of(sale_id=upcoming.pk, user_id=customer.user_id)
    assert shown["reminded"] and shown["sent_at"] is None
    services.reminders_send_due(now=later - timedelta(minutes=1))
    assert selectors.reminder_of(sale_id=upcoming.pk, user_id=customer.user_id)["sent_at"]


@pytest.mark.django_db
def test_a_sale_called_off_takes_its_reminders_with_it(upcoming, customer, sms_outbox):
    """The store has no cancelled state for a sale: ops delete an upcoming one."""
    services.reminder_set(sale_id=upcoming.pk, user_id=customer.user_id)
    FlashSale.objects.filter(pk=upcoming.pk).delete()
    assert services.reminders_send_due(now=upcoming.starts_at - timedelta(minutes=1)) == 0
    assert sms_outbox == [] and not Reminder.objects.exists()


@pytest.mark.django_db
def test_a_cancelled_reminder_is_not_texted(upcoming, customer, sms_outbox):
    services.reminder_set(sale_id=upcoming.pk, user_id=customer.user_id)
    services.reminder_cancel(sale_id=upcoming.pk, user_id=customer.user_id)
    assert services.reminders_send_due(now=upcoming.starts_at - timedelta(minutes=1)) == 0
    assert sms_outbox == []


@pytest.mark.django_db
def test_a_blacklisted_shopper_is_still_reminded(upcoming, customer, sms_outbox):
    """The gate refuses the account at the opening; a missing text would only tell a
    scalper it was spotted."""
    services.reminder_set(sale_id=upcoming.pk, user_id=customer.user_id)
    antiscalper.blacklist_add(kind="account", value=str(customer.user_id), reason="ring")
    assert services.reminders_send_due(now=upcoming.starts_at - timedelta(minutes=1)) == 1
    assert len(_texts_to(sms_outbox, customer)) == 1


@pytest.mark.django_db(transaction=True)
def test_senders_racing_text_each_reminder_exactly_once(upcoming, make_customer, sms_outbox):
    shoppers = [make_customer(with_address=False) for _ in range(30)]
    for shopper in shoppers:
        services.reminder_set(sale_id=upcoming.pk, user_id=shopper.user_id)
    now = upcoming.starts_at - timedelta(minutes=2)
    results = run_together(*[lambda: services.reminders_send_due(now=now) for _ in range(4)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 30
    assert sorted(text.phone for text in sms_outbox) == sorted(s.phone for s in shoppers)
    assert Reminder.objects.filter(sent_at__isnull=True).count() == 0


class WorkerKilled(BaseException):
    """The worker dies (not an error the sender could catch and carry on from)."""


class DyingBackend(sms.MemoryBackend):
    """The test backend, in a worker that is killed as it is about to send its third text."""

    calls = 0

    def send(self, *, phone: str, message: str) -> None:
        type(self).calls += 1
        if type(self).calls == 3:
            raise WorkerKilled
        super().send(phone=phone, message=message)


@pytest.mark.django_db
def test_a_sender_killed_mid_batch_loses_no_reminder_and_texts_none_twice(
        upcoming, make_customer, sms_outbox, settings):
    shoppers = [make_customer(with_address=False) for _ in range(6)]
    for shopper in shoppers:
        services.reminder_set(sale_id=upcoming.pk, user_id=shopper.user_id)
    now = upcoming.starts_at - LEAD + timedelta(seconds=5)
    DyingBackend.calls = 0
    with override_settings(SMS_BACKEND=f"{__name__}.DyingBackend"), \
            pytest.raises(WorkerKilled):
        services.reminders_send_due(now=now)
    assert len(sms_outbox) == 2
    # Another tick at once leaves the dead sender's claim alone...
    assert services.reminders_send_due(now=now + timedelta(seconds=30)) == 0
    # ...and texts the rest once its lease lapsed, still before the opening.
    lapsed = now + timedelta(seconds=settings.REMINDER_LEASE_SECONDS + 1)
    assert lapsed < upcoming.starts_at
    assert services.reminders_send_due(now=lapsed) == 4
    assert sorted(text.phone for text in sms_outbox) == sorted(s.phone for s in shoppers)


class RefusingBackend:
    """A provider that is down: refuses every text."""

    def send(self, *, phone: str, message: str) -> None:
        raise ConnectionError("provider unreachable")


@pytest.mark.django_db
def test_a_provider_that_is_down_delays_the_text_and_does_not_lose_it(
        upcoming, customer, sms_outbox, settings):
    services.reminder_set(sale_id=upcoming.pk, user_id=customer.user_id)
    now = upcoming.starts_at - LEAD + timedelta(seconds=5)
    with override_settings(SMS_BACKEND=f"{__name__}.RefusingBackend"):
        assert services.reminders_send_due(now=now) == 0
    assert Reminder.objects.get().sent_at is None
    later = now + timedelta(seconds=settings.REMINDER_LEASE_SECONDS + 1)
    assert services.reminders_send_due(now=later) == 1
    assert len(_texts_to(sms_outbox, customer)) == 1


@pytest.mark.django_db
def test_the_beat_task_on_the_housekeeping_queue_texts_what_is_due_now(
        make_sale, customer, sms_outbox, settings):
    soon = make_sale(starts_in=240, load=False)
    services.reminder_set(sale_id=soon.pk, user_id=customer.user_id)
    assert settings.CELERY_TASK_ROUTES["sales.tasks.reminders_send_due"] == {
        "queue": "housekeeping"}
    beat = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values()
            if entry["task"] == "sales.tasks.reminders_send_due"]
    assert len(beat) == 1 and beat[0]["schedule"] <= 60
    assert tasks.reminders_send_due.apply().get() == 1
    assert tasks.reminders_send_due.apply().get() == 0
    assert len(_texts_to(sms_outbox, customer)) == 1
