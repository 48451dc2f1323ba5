"""Verified identities tie, claimed ones only ever lead to review (issue 16.1).

Verified: the gateway's fingerprint of a charged instrument, a phone confirmed by a code.
Claimed: an address-book phone, a typed address, an X-Device-Id header. Invariants:
- accounts sharing a verified identity are one cluster, and a large enough one blocks;
- no set of accounts sharing only claimed details is ever blocked or cancelled;
- an established holder of an instrument (its first charged account, or charged before the
  sale opened) is never tied to accounts that copied it later.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from antiscalper import linking
from antiscalper.models import Decision, RiskDecision
from antiscalper.tests.risk_helpers import age, attempt, judge, pay_with, share_address
from shop import phones
from shop.models import Customer
from shop.services import address_create

pytestmark = pytest.mark.django_db

ONE_CARD = ["4111 1111 1111 1111", "4111-1111-1111-1111", "４１１１１１１１１１１１１１１１",
            "4111111111111111 "]


def _ring_paying(make_customer, sku, cards: list[str], *, days_ago: float = 1):
    accounts = [make_customer() for _ in cards]
    for n, (account, card) in enumerate(zip(accounts, cards, strict=True)):
        age(account, days=300 + n)
        pay_with(account, sku, card, days_ago=days_ago)
    judge(*[attempt(a.user_id, ip=f"36.{n}.3.1", after_ms=3000 + 900 * n)
            for n, a in enumerate(accounts)])
    return accounts


def test_accounts_paying_with_one_card_written_differently_are_one_blocking_cluster(
        make_customer, sku):
    """The raw strings differ; the gateway's fingerprint does not."""
    ring = _ring_paying(make_customer, sku, ONE_CARD)
    ids = sorted(a.user_id for a in ring)
    [cluster] = linking.clusters_find(sale_id=1)
    assert cluster["members"] == ids
    assert [link["kind"] for link in cluster["links"]] == ["payment"]
    assert set(cluster["proven"].values()) == {4}
    assert linking.linking_run(sale_id=1) == ids


def test_different_cards_tie_no_one(make_customer, sku):
    _ring_paying(make_customer, sku, [f"4111 1111 1111 {n:04d}" for n in range(4)])
    assert linking.clusters_find(sale_id=1) == []


def test_an_established_holder_is_never_tied_to_accounts_that_copied_its_card_since(
        make_customer, sku):
    """A fan paid with its card long ago; four new accounts send the same card, written
    their own way, during the sale. They are a ring of four (counted with the fan), the fan
    is in no cluster and gets no decision."""
    fan = make_customer()
    age(fan, days=800)
    pay_with(fan, sku, "4111111111111111", days_ago=200)
    copiers = [make_customer() for _ in ONE_CARD]
    for account, card in zip(copiers, ONE_CARD, strict=True):
        pay_with(account, sku, card, days_ago=0)  # after the opening the attempts tell
    judge(*[attempt(a.user_id, ip=f"36.{n}.4.1", after_ms=3000 + 900 * n)
            for n, a in enumerate([fan, *copiers])])

    clusters = linking.clusters_find(sale_id=1)
    assert all(fan.user_id not in c["members"] for c in clusters)
    blocked = linking.linking_run(sale_id=1)
    assert blocked == sorted(a.user_id for a in copiers)
    assert not RiskDecision.objects.filter(user_id=fan.user_id).exclude(
        decision=Decision.ALLOW).filter(source="linking").exists()


CLAIMED = ("phone", "address", "building", "device", "phone_block")


@pytest.mark.parametrize("bought", [True, False], ids=["bought", "lost"])
@pytest.mark.parametrize("ties", [frozenset(c for n, c in enumerate(CLAIMED) if mask >> n & 1)
                                  for mask in range(1, 2 ** len(CLAIMED))],
                         ids=lambda ties: "+".join(sorted(ties)))
def test_claimed_details_alone_never_block_anyone(make_customer, ties, bought):
    """Every mix of claimed details, shared by a crowd of five with each other and with an
    established fan: linking reviews at most, cancels nothing, finds no proven group."""
    block = "phone_block" in ties  # the crowd registered numbers next to the fan's
    fan = make_customer(with_address=False, phone="13712345600" if block else None)
    share_address(fan, line1="5 Real Fan Road")
    crowd = [make_customer(with_address=False, phone=f"1371234560{n + 1}" if block else None)
             for n in range(5)]
    for n, other in enumerate([fan, *crowd]):
        age(other, days=400 + n)  # old accounts: nothing but the shared details against them
    for n, other in enumerate(crowd):
        line1 = ("5 Real Fan Road" if "address" in ties else
                 f"5 Real Fan Road, Room {n + 1}01" if "building" in ties else f"{n} Own Road")
        address_create(customer=other, recipient="R",
                       phone=fan.phone if "phone" in ties else other.phone,
                       line1=line1, city="Shenzhen", postcode="518000")
    judge(*[attempt(c.user_id, ip=f"36.{n}.5.1", after_ms=2500 + 700 * n,
                    verdict="admitted" if bought else "sold_out",
                    device="shared-device" if "device" in ties else None)
            for n, c in enumerate([fan, *crowd])])

    clusters = linking.clusters_find(sale_id=1)
    assert clusters, "the claimed ties must at least form a cluster for review"
    assert linking.linking_run(sale_id=1) == []
    assert not RiskDecision.objects.filter(source="linking", decision=Decision.BLOCK).exists()
    # The realtime score may still block the crowd for what it did together (six accounts
    # on one device at the opening); the fan whose details they copied, never.
    assert not RiskDecision.objects.filter(user_id=fan.user_id, decision=Decision.BLOCK).exists()
    assert all(set(c["proven"].values()) == {1} for c in clusters)


ONE_NUMBER = ["13800138000", "+8613800138000", "008613800138000", "8613800138000"]


def _confirm(customer, sms_outbox, *, days_ago: float = 0):
    """Confirm the account's phone the way a shopper does: the code texted to it."""
    phones.phone_code_send(user_id=customer.user_id)
    code = re.search(r"\b(\d{6})\b", sms_outbox[-1].message).group(1)
    phones.phone_code_confirm(user_id=customer.user_id, code=code)
    Customer.objects.filter(pk=customer.pk).update(
        phone_verified_at=timezone.now() - timedelta(days=days_ago))


def test_accounts_that_confirmed_one_number_written_differently_are_one_blocking_cluster(
        make_customer, sms_outbox):
    """Registration takes each form as a new phone; the codes all reached one SIM."""
    ring = [make_customer(phone=phone, with_address=False) for phone in ONE_NUMBER]
    for n, account in enumerate(ring):
        age(account, days=300 + n)
        _confirm(account, sms_outbox, days_ago=30)
    judge(*[attempt(a.user_id, ip=f"36.{n}.6.1", after_ms=3000 + 900 * n)
            for n, a in enumerate(ring)])

    [cluster] = linking.clusters_find(sale_id=1)
    ids = sorted(a.user_id for a in ring)
    assert cluster["members"] == ids
    assert [link["kind"] for link in cluster["links"]] == ["verified_phone"]
    assert set(cluster["proven"].values()) == {4}
    assert linking.linking_run(sale_id=1) == ids


def test_the_same_numbers_unconfirmed_tie_no_one(make_customer):
    """Without the codes, the four forms are four typed numbers: nothing ties them."""
    ring = [make_customer(phone=phone, with_address=False) for phone in ONE_NUMBER]
    judge(*[attempt(a.user_id, ip=f"36.{n}.6.1", after_ms=3000 + 900 * n)
            for n, a in enumerate(ring)])
    assert linking.clusters_find(sale_id=1) == []


def test_an_old_account_is_never_tied_to_accounts_that_confirmed_its_number_since(
        make_customer, sms_outbox):
    """A carrier gave a fan's old number to someone else, whose accounts confirm it during
    the sale: they are a group of their own (counted with the fan), the fan is in none."""
    fan = make_customer(phone=ONE_NUMBER[0], with_address=False)
    age(fan, days=900)
    _confirm(fan, sms_outbox, days_ago=400)
    later = [make_customer(phone=phone, with_address=False) for phone in ONE_NUMBER[1:]]
    for account in later:
        _confirm(account, sms_outbox)  # now: after the opening the attempts tell
    judge(*[attempt(a.user_id, ip=f"36.{n}.2.1", after_ms=3000 + 900 * n)
            for n, a in enumerate([fan, *later])])

    clusters = linking.clusters_find(sale_id=1)
    assert all(fan.user_id not in c["members"] for c in clusters)
    assert linking.linking_run(sale_id=1) == sorted(a.user_id for a in later)
    assert not RiskDecision.objects.filter(user_id=fan.user_id, source="linking").exists()


def test_a_confirmed_phone_copied_into_address_books_never_ties_its_owner(
        make_customer, sms_outbox, sku):
    """The owner confirmed the number; five new accounts write it as their delivery phone.
    The copies are claims: the copiers are for review at most, the owner is in no cluster."""
    owner = make_customer(with_address=False)
    age(owner, days=500)
    _confirm(owner, sms_outbox, days_ago=100)
    copiers = [make_customer(with_address=False) for _ in range(5)]
    for n, copier in enumerate(copiers):
        address_create(customer=copier, recipient="R", phone=owner.phone,
                       line1=f"{n} Own Road", city="Shenzhen", postcode="518000")
    judge(*[attempt(a.user_id, ip=f"36.{n}.1.9", after_ms=3000 + 900 * n)
            for n, a in enumerate([owner, *copiers])])

    [cluster] = linking.clusters_find(sale_id=1)
    assert owner.user_id not in cluster["members"]
    assert set(cluster["proven"].values()) == {1}
    assert linking.linking_run(sale_id=1) == []
