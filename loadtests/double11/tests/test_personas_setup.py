"""Issue 16's personas are what they claim to be, in the plan and in the database the replay
sets up: a ring of aged, dormant accounts with one device, IP, card and phone each whose raw
addresses differ but meet in a few buildings; a household on one device and one address;
office-tower fans with earlier purchases there; a deposit reseller in the deposit pre-sale."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from loadtests.double11 import rings
from loadtests.double11.plan import cast, sizes
from loadtests.double11.run import Options, prepare
from sales.models import FlashSale, SaleMode
from shop.addresses import building_normalize
from shop.models import Address, Customer, Order, OrderStatus


def cast_at(scale: float, seed: int = 1):
    shoppers, stock, quota = sizes(scale=scale)
    return cast(usernames=[f"u{i}" for i in range(shoppers)], fcodes={}, shoppers=shoppers,
                stock=stock, fcode_quota=quota, seed=seed)


def building_of(address: dict) -> str:
    return building_normalize(line1=address["line1"], city=address["city"],
                              postcode=address["postcode"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_rings_addresses_differ_raw_but_meet_in_a_few_buildings(seed):
    c = cast_at(0.001, seed)
    for operator in [op for op in c.operators if op.startswith("ring")]:
        ring = [a for a in c.accounts if a.operator == operator]
        raw = [a.drop_address["line1"] for a in ring]
        buildings = Counter(building_of(a.drop_address) for a in ring)
        assert len(ring) >= rings.RING_MIN
        assert len(buildings) <= max(rings.RING_BUILDINGS)
        assert len(set(raw)) >= len(ring) - 1, raw   # (two draws may write a room alike)
        assert min(buildings.values()) >= 2, buildings


def test_a_ring_account_is_aged_and_has_its_own_device_ip_card_and_phone():
    ring = [a for a in cast_at(0.001).accounts if a.persona == "ring"]
    assert all(a.joined_days >= rings.RING_AGE_DAYS[0] and not a.history for a in ring)
    assert all(a.confirm_phone and a.phone for a in ring)
    for field in ("device", "ip", "card", "phone"):
        values = [getattr(a, field) for a in ring]
        assert len(set(values)) == len(values), field
    # residential-looking: no two accounts of a ring in one /24
    assert len({a.ip.rsplit(".", 1)[0] for a in ring}) >= len(ring) - 1


def test_every_written_form_of_a_building_normalises_to_it():
    rng = random.Random(9)
    for _ in range(40):
        building = rings.building_pick(rng)
        lines = rings.variants(building, rng, 6)
        keys = {building_normalize(line1=line, city=building.city, postcode=building.postcode)
                for line in lines}
        assert len(lines) == 6 and len(keys) == 1, (lines, keys)


def test_the_household_shares_one_device_ip_and_address_and_the_office_one_building():
    c = cast_at(0.0001)
    household = [a for a in c.accounts if a.persona == "household"]
    assert len(household) == 2 * rings.HOUSEHOLD_SIZE      # 0.0001: two households
    homes = Counter((a.device, a.ip, a.address["line1"]) for a in household)
    assert sorted(homes.values()) == [rings.HOUSEHOLD_SIZE] * 2
    office = [a for a in c.accounts if a.persona == "office"]
    assert len({building_of(a.address) for a in office}) == 1
    assert len({a.address["line1"] for a in office}) > 1      # each its own floor and room
    assert all(a.history and a.joined_days for a in household + office)


def test_the_deposit_reseller_buys_in_the_deposit_presale_from_one_card_and_one_building():
    c = cast_at(0.001)
    resellers = [a for a in c.accounts if a.persona == "deposit"]
    assert len(resellers) >= 3 and all(a.sale == "deposit" for a in resellers)
    assert len({a.card for a in resellers}) == 1
    assert len({building_of(a.drop_address) for a in resellers}) == 1
    assert any(a.sale == "deposit" for a in c.accounts if a.persona == "fan")


@pytest.mark.django_db
def test_the_set_up_back_dates_the_accounts_and_writes_the_histories(tmp_path):
    plan = prepare(Options(scale=0.0001, time_scale=0.02, min_phase_s=2, seed=3), tmp_path)
    t0 = timezone.datetime.fromtimestamp(plan.t0, tz=timezone.get_current_timezone())
    by_name = {a.username: a for a in plan.accounts}
    users = get_user_model().objects.in_bulk(list(by_name), field_name="username")

    ring = [a for a in plan.accounts if a.persona == "ring"]
    assert ring
    for a in ring:
        user = users[a.username]
        customer = Customer.objects.get(user=user)
        assert user.date_joined <= t0 - timedelta(days=rings.RING_AGE_DAYS[0])
        assert customer.joined_at == user.date_joined
        assert customer.phone == a.phone and customer.phone_verified_at is None  # on the day
        assert not Order.objects.filter(user=user).exists()                      # dormant

    for persona in ("office", "household"):
        for a in [x for x in plan.accounts if x.persona == persona]:
            user = users[a.username]
            first = Address.objects.filter(customer__user=user).order_by("id").first()
            assert first.line1 == a.address["line1"]
            assert first.building == building_of(a.address)
            history = Order.objects.filter(user=user, address=first)
            assert history.count() == len(a.history) >= 1
            assert all(o.status == OrderStatus.DELIVERED and o.created_at < t0 and not o.sale_id
                       for o in history)
    tower = {Address.objects.filter(customer__user=users[a.username]).first().building
             for a in plan.accounts if a.persona == "office"}
    assert len(tower) == 1

    deposit = FlashSale.objects.get(pk=plan.deposit_sale_id)
    assert deposit.mode == SaleMode.DEPOSIT and deposit.deposit and deposit.starts_at == t0


@pytest.mark.django_db
def test_a_chaos_verdict_counts_the_rushs_tickets_not_the_deposit_presales(tmp_path):
    """The chaos run counts the rush's acknowledged tickets as its admissions: the deposit
    pre-sale's (sale 12 here) must not make the rush's tickets look unresolved."""
    from loadtests.double11 import verdict

    user = get_user_model().objects.create(username="fan000001")
    (tmp_path / "labels-0-1.json").write_text(json.dumps({"errors": [], "labels": {
        "fan000001": {"persona": "fan", "tickets": ["1-aa-1-m", "12-bb-1-m"]}}}))

    assert verdict.acknowledged(tmp_path, sale_id=1) == {"1-aa-1-m": user.pk}
    assert verdict.acknowledged(tmp_path, sale_id=12) == {"12-bb-1-m": user.pk}
    assert len(verdict.acknowledged(tmp_path)) == 2


LOCUST_SIDE = """
import json, sys
from loadtests.double11 import personas, plan, shopper
import loadtests.locustfile as locustfile
print(json.dumps({"classes": sorted(c.persona for c in personas.PERSONA_CLASSES),
                  "collected": sorted(c.persona for c in personas.PERSONA_CLASSES
                                      if getattr(locustfile, c.__name__, None) is c),
                  "personas": sorted(plan.PERSONAS),
                  "code": shopper.SMS_CODE.search(shopper.sms_read(sys.argv[1])).group(1)}))
"""


def test_every_persona_has_a_locust_user_and_the_journeys_read_the_texted_code(tmp_path):
    """In a process of its own, as Locust runs them (importing Locust patches gevent): each
    persona of the plan is a user class the locustfile collects, and a ring's journey reads
    the code the store texted through shop.sms.RedisBackend."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from django.conf import settings

    from shop.sms import RedisBackend

    phone = f"1{random.randint(3000000000, 8999999999)}"
    RedisBackend().send(phone=phone, message="Your Mi Store code is 042917. It expires ...")
    base = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", LOCUST_SIDE, phone], capture_output=True,
                         text=True, timeout=120, cwd=base, check=True,
                         env={**os.environ, "PYTHONPATH": str(base),
                              "D11_REDIS_URL": settings.REDIS_URL})
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["classes"] == seen["collected"] == seen["personas"]
    assert seen["code"] == "042917"
