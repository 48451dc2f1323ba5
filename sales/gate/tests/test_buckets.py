"""A sale's stock in buckets (`FlashSale.shards`) on the suite's one Redis: the same gate as on
a cluster, minus the cluster (`test_cluster` has that). Buyers are routed by account, an empty
bucket borrows, units go back to the buyer's bucket, and one bucket costs no extra round trip."""

from __future__ import annotations

from collections import Counter

import pytest

from core.errors import DomainError
from sales import services
from sales.gate import admission, buckets, holdings, hotline
from sales.gate import ops as gate_ops
from sales.gate.admission import Purchase
from sales.gate.keys import SaleKeys, bucket_keys, bucket_of, connection, script_source
from sales.invariants import broken, sale_invariants
from sales.pipeline import orders as pipeline
from sales.pipeline import reconcile
from shop.models import Order


def _lefts(sale_id: int, shards: int) -> list[int]:
    return [int(connection().get(keys.stock) or 0) for keys in bucket_keys(sale_id, shards)]


def _buy(sale_id: int, users, codes: Counter) -> list[str]:
    tickets = []
    for user in users:
        try:
            tickets.append(services.purchase_admit(
                purchase=Purchase(sale_id=sale_id, user_id=user)).ticket)
        except DomainError as refusal:
            codes[refusal.code] += 1
    return tickets


def test_the_stock_is_split_evenly_and_each_buyer_meets_one_bucket(make_sale, buyer_ids):
    sale = make_sale(stock=10, limit=1, shards=3)
    assert _lefts(sale.pk, 3) == [4, 3, 3]
    user = buyer_ids(1)[0]
    mine = bucket_keys(sale.pk, 3)[bucket_of(user, 3)]
    codes: Counter = Counter()
    assert len(_buy(sale.pk, [user, user], codes)) == 1 and codes == {"limit_reached": 1}
    assert connection().hget(mine.bought, user) == "1"
    assert holdings.state(sale_id=sale.pk).stock_left == 9
    assert admission._shards[sale.pk] == 3  # learnt from the router's `reroute`


def test_an_empty_bucket_borrows_and_sold_out_means_every_bucket_is_empty(make_sale,
                                                                          buyer_ids):
    sale = make_sale(stock=9, limit=1, shards=3)
    skewed = [user for user in buyer_ids(200) if bucket_of(user, 3) == 2][:12]
    codes: Counter = Counter()
    tickets = _buy(sale.pk, skewed, codes)
    assert len(tickets) == 9 and codes == {"sold_out": 3}
    assert _lefts(sale.pk, 3) == [0, 0, 0]
    pipeline.drain(sale_id=sale.pk, min_idle_ms=0)
    assert Order.objects.filter(sale_id=sale.pk).count() == 9
    checks = sale_invariants(sale_id=sale.pk, tickets=tickets)
    assert not broken(checks), [str(c) for c in checks]


def test_units_given_back_go_to_the_buyers_bucket(make_sale, buyer_ids):
    sale = make_sale(stock=6, limit=2, shards=3)
    user = buyer_ids(1)[0]
    bucket = bucket_of(user, 3)
    before = _lefts(sale.pk, 3)
    assert gate_ops.release(sale_id=sale.pk, user_id=user, units=1, token="o:1")
    assert not gate_ops.release(sale_id=sale.pk, user_id=user, units=1, token="o:1")
    assert _lefts(sale.pk, 3) == [left + (k == bucket) for k, left in enumerate(before)]


def test_a_move_cut_in_half_is_given_by_reconciliation_once(make_sale):
    sale = make_sale(stock=12, shards=3)
    move = buckets.take(sale_id=sale.pk, shards=3, donor=0, recipient=2, path="open", units=3)
    assert _lefts(sale.pk, 3) == [1, 4, 4]
    reconcile.gates_reconcile()
    assert _lefts(sale.pk, 3) == [1, 4, 7]
    assert buckets.in_transit(sale_id=sale.pk, shards=3) == []
    assert buckets.give(sale_id=sale.pk, shards=3, move=move) == 0
    assert reconcile.sale_reconcile(sale_id=sale.pk).clean


def test_one_bucket_is_one_round_trip_as_before(make_sale, buyer_ids):
    sale = make_sale(stock=5, limit=1)
    first, second = buyer_ids(2)
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=first))
    line = hotline.line("admit", script_source)
    calls = line.calls
    services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=second))
    assert line.calls == calls + 1
    assert sale.pk not in admission._shards
    assert connection().hget(SaleKeys(sale.pk).meta, "shards") is None


@pytest.mark.parametrize("shards", [0, 17])
def test_a_sale_splits_into_1_to_16_shards(make_sale, shards):
    with pytest.raises(DomainError) as refusal:
        make_sale(shards=shards)
    assert (refusal.value.code, list(refusal.value.details)) == ("invalid", ["shards"])


def test_the_shards_are_fixed_once_the_gate_is_loaded(make_sale):
    sale = make_sale(shards=2)
    with pytest.raises(DomainError) as refusal:
        services.sale_update(sale_id=sale.pk, shards=3)
    assert refusal.value.code == "sale_locked"
    assert _lefts(sale.pk, 2) == [50, 50]
