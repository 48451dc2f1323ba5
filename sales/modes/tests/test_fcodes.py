"""F-codes: issued to the most loyal fans, unguessable yet easy to type, stored as HMACs,
single-use, bound to their account, redeemable without racing the rush."""

from __future__ import annotations

import math
import multiprocessing
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.utils import timezone

from core.errors import DomainError
from sales import services
from sales.gate import holdings
from sales.gate import keys as gate_keys
from sales.gate.admission import Purchase
from sales.models import FCode
from sales.modes import fcodes
from sales.pipeline import orders as pipeline
from sales.pipeline import reconcile
from shop.models import Customer, Order
from shop.tests.fixtures import client_for


@pytest.fixture
def fcode_sale(make_sale):
    return make_sale(stock=10, fcode_quota=4, load=False)


def issue(sale, count=4, level=2):
    codes = fcodes.fcodes_issue(sale_id=sale.pk, count=count, fan_level_min=level)
    services.gate_load(sale_id=sale.pk)
    return codes


def buy(sale, user_id, code=None, now=None, **extra):
    return services.purchase_admit(purchase=Purchase(
        sale_id=sale.pk, user_id=user_id, fcode=code, **extra), now=now)


def refusal(sale, user_id, code=None, **extra) -> DomainError:
    with pytest.raises(DomainError) as refused:
        buy(sale, user_id, code, **extra)
    return refused.value


def test_a_code_is_grouped_unambiguous_and_has_at_least_64_bits():
    code = fcodes.code_new()
    group = f"[{fcodes.ALPHABET}]{{5}}"
    assert re.fullmatch(f"{group}-{group}-{group}", code)
    assert not set(code) & set("01OILZ25SB8")
    assert math.log2(len(fcodes.ALPHABET) ** 15) >= 64
    assert len({fcodes.code_new() for _ in range(2000)}) == 2000


def test_typing_a_code_ignores_case_spaces_and_dashes():
    code = fcodes.code_new()
    sloppy = f"  {code.lower().replace('-', ' ')} "
    assert fcodes.code_hash(sloppy) == fcodes.code_hash(code)


def test_codes_go_to_the_highest_levels_first_then_the_longest_standing(fcode_sale,
                                                                        make_customer):
    now = timezone.now()
    fans = {name: make_customer(fan_level=level, username=name)
            for name, level in [("lv1", 1), ("lv2-new", 2), ("lv3", 3), ("honorary", 4),
                                ("lv2-old", 2)]}
    Customer.objects.filter(pk=fans["lv2-old"].pk).update(joined_at=now - timedelta(days=900))
    Customer.objects.filter(pk=fans["lv2-new"].pk).update(joined_at=now - timedelta(days=9))
    issued = fcodes.fcodes_issue(sale_id=fcode_sale.pk, count=3, fan_level_min=2)
    assert [c.username for c in issued] == ["honorary", "lv3", "lv2-old"]
    again = fcodes.fcodes_issue(sale_id=fcode_sale.pk, count=5, fan_level_min=2)
    assert [c.username for c in again] == ["lv2-new"]  # the quota (4) is now used up
    with pytest.raises(DomainError) as full:
        fcodes.fcodes_issue(sale_id=fcode_sale.pk, count=1, fan_level_min=0)
    assert full.value.code == "fcode_quota_used"


def test_the_database_keeps_no_usable_code(fcode_sale, make_customer):
    make_customer(fan_level=3)
    [issued] = fcodes.fcodes_issue(sale_id=fcode_sale.pk, count=1, fan_level_min=3)
    row = FCode.objects.get()
    assert row.code_hash == fcodes.code_hash(issued.code)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM sales_fcode")
        dumped = " ".join(str(value) for value in cursor.fetchone())
    assert fcodes.code_normalize(issued.code) not in dumped.upper().replace("-", "")


def test_ops_issue_codes_through_the_api_and_shoppers_cannot(fcode_sale, make_customer, api):
    make_customer(fan_level=3)
    ops = get_user_model().objects.create_superuser("ops1", password="x-Long-pass-1")
    url = f"/api/v1/ops/sales/{fcode_sale.pk}/fcodes"
    response = client_for(ops).post(url, {"count": 2, "fan_level_min": 3}, format="json")
    assert response.status_code == 201 and response.json()["issued"] == 1
    assert api.post(url, {"count": 2}, format="json").status_code == 403
    bad = client_for(ops).post(url, {"count": 0}, format="json")
    assert (bad.status_code, list(bad.json()["error"]["details"])) == (400, ["count"])


def test_a_code_buys_one_unit_once_and_only_for_its_owner(fcode_sale, make_customer):
    owner, other = make_customer(fan_level=3), make_customer(fan_level=0)
    [issued] = issue(fcode_sale, count=1, level=3)
    assert refusal(fcode_sale, other.user_id, issued.code).code == "fcode_invalid"
    assert buy(fcode_sale, owner.user_id, issued.code.lower()).ticket
    assert refusal(fcode_sale, owner.user_id, issued.code).code == "fcode_invalid"
    pipeline.drain(sale_id=fcode_sale.pk)
    order = Order.objects.get(user_id=owner.user_id)
    assert FCode.objects.get().order_id == order.pk
    assert holdings.state(sale_id=fcode_sale.pk).fcode_stock_left == 3


def test_an_expired_code_is_invalid(fcode_sale, make_customer):
    owner = make_customer(fan_level=3)
    [issued] = fcodes.fcodes_issue(sale_id=fcode_sale.pk, count=1, fan_level_min=3)
    late = fcode_sale.ends_at - timedelta(seconds=1)
    FCode.objects.update(expires_at=late - timedelta(minutes=1))
    services.gate_load(sale_id=fcode_sale.pk)
    assert refusal(fcode_sale, owner.user_id, issued.code, now=late).code == "fcode_invalid"


def test_wrong_guesses_lock_the_account_out_and_are_recorded(fcode_sale, make_customer,
                                                             api):
    guesser = make_customer()
    issue(fcode_sale, count=1, level=0)
    for _ in range(gate_keys.FCODE_GUESS_LIMIT):
        assert refusal(fcode_sale, guesser.user_id, fcodes.code_new(),
                       device="dev-9").code == "fcode_invalid"
    locked = client_for(guesser.user).post(
        f"/api/v1/sales/{fcode_sale.pk}/purchase", {"fcode": fcodes.code_new()},
        format="json")
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "rate_limited"
    assert int(locked["Retry-After"]) > 0
    signals = gate_keys.connection().xrange(gate_keys.SIGNALS_KEY)
    assert len(signals) == gate_keys.FCODE_GUESS_LIMIT
    assert signals[0][1]["user"] == str(guesser.user_id) and signals[0][1]["device"] == "dev-9"


def test_the_same_device_is_locked_out_across_accounts(fcode_sale, make_customer):
    issue(fcode_sale, count=1, level=0)
    for _ in range(gate_keys.FCODE_GUESS_LIMIT):
        refusal(fcode_sale, make_customer().user_id, fcodes.code_new(), device="farm-phone")
    assert refusal(fcode_sale, make_customer().user_id, fcodes.code_new(),
                   device="farm-phone").code == "rate_limited"


def _rush(sale_id: int, users: list[int], codes: dict[int, str], answers) -> None:
    tally: dict[str, int] = {}
    for user_id in users:
        try:
            services.purchase_admit(purchase=Purchase(
                sale_id=sale_id, user_id=user_id, fcode=codes.get(user_id)))
            outcome = "fcode_ok" if user_id in codes else "open_ok"
        except DomainError as refused:
            outcome = refused.code
        tally[outcome] = tally.get(outcome, 0) + 1
    answers.put(tally)


@pytest.mark.django_db(transaction=True)
def test_fcode_holders_get_their_units_while_the_rush_takes_the_last_open_ones(make_sale,
                                                                               buyer_ids):
    sale = make_sale(stock=30, fcode_quota=10, load=False)
    users = buyer_ids(400)
    Customer.objects.filter(user_id__in=users[:10]).update(fan_level=4)
    issued = {c.user_id: c.code for c in fcodes.fcodes_issue(sale_id=sale.pk, count=10,
                                                             fan_level_min=4)}
    services.gate_load(sale_id=sale.pk)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    answers = ctx.Queue()
    rushers = [users[10:][i::3] for i in range(3)]
    workers = [ctx.Process(target=_rush, args=(sale.pk, chunk, {}, answers)) for chunk in rushers]
    workers.append(ctx.Process(target=_rush, args=(sale.pk, list(issued), issued, answers)))
    for worker in workers:
        worker.start()
    tallies = [answers.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    total = {k: sum(t.get(k, 0) for t in tallies) for k in {k for t in tallies for k in t}}
    assert total == {"fcode_ok": 10, "open_ok": 20, "sold_out": 370}
    pipeline.drain(sale_id=sale.pk)
    assert Order.objects.filter(sale_id=sale.pk).count() == 30
    assert FCode.objects.filter(order__isnull=False).count() == 10
    assert reconcile.sale_reconcile(sale_id=sale.pk).clean


def test_unused_quota_is_released_to_the_open_rush(fcode_sale, buyer_ids):
    issue(fcode_sale, count=1, level=0)
    assert fcodes.fcode_quota_release(sale_id=fcode_sale.pk) == 4
    fcode_sale.refresh_from_db()
    assert fcode_sale.fcode_quota == 0
    assert holdings.stock_left(sale_id=fcode_sale.pk) == 10
    for user in buyer_ids(10):
        buy(fcode_sale, user)
    pipeline.drain(sale_id=fcode_sale.pk)
    assert Order.objects.filter(sale_id=fcode_sale.pk).count() == 10
    assert reconcile.sale_reconcile(sale_id=fcode_sale.pk).clean


@pytest.mark.django_db(transaction=True)
def test_an_unpaid_fcode_order_gives_its_unit_back_to_the_quota(fcode_sale, make_customer):
    owner = make_customer(fan_level=3)
    [issued] = issue(fcode_sale, count=1, level=3)
    buy(fcode_sale, owner.user_id, issued.code)
    pipeline.drain(sale_id=fcode_sale.pk)
    order = Order.objects.get(user_id=owner.user_id)
    services.orders_expire_due(now=order.payment_due_at + timedelta(seconds=1))
    state = holdings.state(sale_id=fcode_sale.pk)
    assert (state.fcode_stock_left, state.stock_left) == (4, 6)
    assert reconcile.sale_reconcile(sale_id=fcode_sale.pk).clean
