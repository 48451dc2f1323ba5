"""Phone confirmation codes (shop.phones), stated as invariants and attacked with hypothesis:
a code confirms once, never after it lapsed or after its tries are used up, never on another
account, and what is stored is never the code."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from core.errors import DomainError
from shop import phones, services, sms
from shop.models import Customer, PhoneCode

MAX = 5
TTL = 300
COOLDOWN = 60
CODES = st.text(alphabet="0123456789", min_size=6, max_size=6)


def _code_of(phone: str) -> str:
    message = sms.last_to(phone)
    assert message is not None, f"no text to {phone}"
    return re.search(r"\b(\d{6})\b", message.message).group(1)


def _refused(**kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        phones.phone_code_confirm(**kwargs)
    return caught.value


class CodeLifecycle(TestCase):
    """Each example starts from a fresh database (hypothesis' Django TestCase rolls each
    one back), with two fresh accounts and an empty outbox."""

    def _world(self) -> None:
        sms.outbox.clear()
        self.t0 = timezone.now()
        self.alice = services.customer_register(username="alice", password="correct-horse-1",
                                                phone="13800000001")
        self.bob = services.customer_register(username="bob", password="correct-horse-2",
                                              phone="13800000002")

    def _send(self, customer: Customer, at=None) -> str:
        phones.phone_code_send(user_id=customer.user_id, now=at or self.t0)
        return _code_of(customer.phone)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(guesses=st.lists(CODES, max_size=8), tries_before=st.integers(0, 7))
    def test_a_code_confirms_only_within_its_tries_and_only_once(self, guesses, tries_before):
        self._world()
        code = self._send(self.alice)
        wrong = [g for g in guesses if g != code][:tries_before]
        for guess in wrong:
            error = _refused(user_id=self.alice.user_id, code=guess, now=self.t0)
            assert error.code == "invalid" and "code" in error.details
        if len(wrong) < MAX:
            confirmed = phones.phone_code_confirm(user_id=self.alice.user_id, code=code,
                                                  now=self.t0)
            assert confirmed.phone_verified_at == self.t0
        else:  # five wrong tries: the right code is dead too
            assert _refused(user_id=self.alice.user_id, code=code, now=self.t0).code == "invalid"
            assert Customer.objects.get(pk=self.alice.pk).phone_verified_at is None
        # whatever happened, the same code never confirms (again)
        assert _refused(user_id=self.alice.user_id, code=code, now=self.t0).code == "invalid"
        assert PhoneCode.objects.get(customer=self.alice).tries <= MAX

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(late=st.integers(min_value=0, max_value=3 * TTL))
    def test_a_code_never_confirms_once_it_has_lapsed(self, late):
        self._world()
        code = self._send(self.alice)
        at = self.t0 + timedelta(seconds=late)
        if late < TTL:
            assert phones.phone_code_confirm(user_id=self.alice.user_id, code=code, now=at)
        else:
            error = _refused(user_id=self.alice.user_id, code=code, now=at)
            assert error.code == "invalid" and "expired" in error.message
            assert Customer.objects.get(pk=self.alice.pk).phone_verified_at is None

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_another_accounts_code_never_confirms_yours(self, data):
        self._world()
        alices = self._send(self.alice)
        bobs = self._send(self.bob)
        if alices == bobs:  # one in a million: the same digits are each one's own code
            return
        error = _refused(user_id=self.bob.user_id, code=alices, now=self.t0)
        assert error.code == "invalid"
        assert Customer.objects.get(pk=self.bob.pk).phone_verified_at is None
        assert Customer.objects.get(pk=self.alice.pk).phone_verified_at is None
        # and it cost bob a try, not alice
        assert (PhoneCode.objects.get(customer=self.bob).tries,
                PhoneCode.objects.get(customer=self.alice).tries) == (1, 0)

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_what_is_stored_is_never_the_code(self, data):
        self._world()
        code = self._send(self.alice)
        row = PhoneCode.objects.get(customer=self.alice)
        stored = " ".join(str(v) for v in PhoneCode.objects.filter(pk=row.pk).values().get()
                          .values())
        assert code not in row.digest and row.digest != code
        assert row.digest == phones.code_digest(customer_id=self.alice.pk,
                                                phone=self.alice.phone, code=code)
        assert code not in stored.replace(self.alice.phone, "")

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(wait=st.integers(min_value=0, max_value=2 * COOLDOWN))
    def test_a_new_code_waits_for_the_cool_down_and_replaces_the_old_one(self, wait):
        self._world()
        first = self._send(self.alice)
        at = self.t0 + timedelta(seconds=wait)
        if wait < COOLDOWN:
            with pytest.raises(DomainError) as caught:
                phones.phone_code_send(user_id=self.alice.user_id, now=at)
            assert caught.value.code == "rate_limited"
            assert 1 <= caught.value.details["retry_after"] <= COOLDOWN
            return
        second = self._send(self.alice, at=at)
        if second != first:
            assert _refused(user_id=self.alice.user_id, code=first, now=at).code == "invalid"
        assert phones.phone_code_confirm(user_id=self.alice.user_id, code=second, now=at)


@pytest.mark.django_db
def test_the_code_is_six_digits_from_the_text_and_confirming_records_the_number(
        make_customer, sms_outbox):
    customer = make_customer(phone="+86 138 0013 8000")
    phones.phone_code_send(user_id=customer.user_id)
    [text] = sms_outbox
    assert text.phone == customer.phone and re.search(r"\b\d{6}\b", text.message)
    confirmed = phones.phone_code_confirm(user_id=customer.user_id, code=_code_of(text.phone))
    assert confirmed.is_verified and confirmed.verified_phone == "13800138000"


@pytest.mark.django_db
def test_a_confirmed_phone_is_not_sent_another_code(make_customer, sms_outbox):
    customer = make_customer()
    phones.phone_verified_mark(customer_id=customer.pk)
    with pytest.raises(DomainError) as caught:
        phones.phone_code_send(user_id=customer.user_id)
    assert (caught.value.code, sms_outbox) == ("invalid", [])


@pytest.mark.django_db
def test_a_failing_sms_backend_leaves_no_code_and_answers_unavailable(make_customer, settings,
                                                                     monkeypatch):
    customer = make_customer()
    monkeypatch.setattr(sms.MemoryBackend, "send", lambda self, **kw: 1 / 0)
    with pytest.raises(DomainError) as caught:
        phones.phone_code_send(user_id=customer.user_id)
    assert (caught.value.code, caught.value.status) == ("unavailable", 503)
    assert not PhoneCode.objects.exists()


@pytest.mark.parametrize(("written", "canonical"), [
    ("13800138000", "13800138000"), ("+8613800138000", "13800138000"),
    ("008613800138000", "13800138000"), ("+442071838750", "442071838750"),
    ("862112345678", "862112345678")])
def test_one_phone_written_with_or_without_the_country_code_is_one_number(written, canonical):
    assert phones.phone_canonical(phone=written) == canonical


@pytest.mark.django_db
def test_the_redis_backend_is_readable_from_any_process(redis_client):
    sms.RedisBackend().send(phone="13800000009", message="Your code is 123456.")
    assert sms.RedisBackend.read("13800000009").message == "Your code is 123456."
    assert redis_client.ttl(sms.RedisBackend.key("13800000009")) > 0
    assert sms.RedisBackend.read("13800000010") is None
