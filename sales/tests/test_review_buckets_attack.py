"""Review of the gate's buckets in the report and admin (issue 17, point 2), attacked as an
outsider would: a readout must add up whenever it shows a figure, and say "unknown" rather
than show a wrong one (a move given but not yet struck, a move or a rebuild between two
buckets' reads); a master down must not turn the pages into a 500."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from core.errors import DomainError
from sales import selectors, services
from sales.gate import buckets as gate_buckets
from sales.gate import holdings, lifecycle
from sales.gate import ops as gate_ops
from sales.gate.admission import Purchase
from sales.gate.keys import bucket_keys, bucket_of, connection, dataset, script
from sales.models import FlashSale
from sales.tests.fixtures import app_redis_forget
from shop.tests.fixtures import client_for


def _until(ready, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.1)


@pytest.fixture
def ops(client, make_staff):
    client.force_login(make_staff("sales.view_flashsale", "sales.change_flashsale"))
    return client


@pytest.fixture
def ops_api(db):
    user = get_user_model().objects.create_user("opsy", password="x-Long-password-1",
                                                is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename="view_flashsale"))
    return client_for(user)


def _buy(sale_id: int, users) -> int:
    admitted = 0
    for user in users:
        try:
            services.purchase_admit(purchase=Purchase(sale_id=sale_id, user_id=user))
            admitted += 1
        except DomainError:
            pass
    return admitted


def _figures(sale: FlashSale) -> selectors.SaleBuckets:
    return selectors.sale_buckets(sale=FlashSale.objects.get(pk=sale.pk))


def test_a_move_given_but_not_yet_struck_is_not_counted_twice(make_sale):
    # A worker gives a move's units to the recipient and dies before striking the donor's
    # journal entry: the recipient's stock has them, so they are no longer in transit.
    sale = make_sale(stock=12, limit=1, shards=3)
    move = gate_buckets.take(sale_id=sale.pk, shards=3, donor=1, recipient=0, path="open",
                             units=2)
    every = bucket_keys(sale.pk, 3)
    recipient = every[0]
    assert script("give")(keys=[recipient.meta, recipient.stock, recipient.received],
                          args=[move.units, move.move_id, dataset(recipient.meta),
                                move.generation]) == 1  # given; the strike never came
    found = _figures(sale)
    left, taken, transit = (found.total(f) for f in ("stock_left", "taken", "in_transit"))
    assert (left, taken) == (12, 0)
    assert transit == 0 and found.rows[1].moves_in_transit == 0, found.as_dict()
    assert found.unaccounted == 0
    assert connection().hlen(every[1].journal) == 1  # still journalled, for reconciliation


def _interleaved(monkeypatch, between) -> None:
    """Run `between()` (real gate work) right after each read of bucket 0 by the readout, as
    a borrower's or a rebuild's calls land between the reads of two buckets in a rush."""
    read = holdings._bucket_holding

    def reading(bucket, *args, **kwargs):
        found = read(bucket, *args, **kwargs)
        if bucket == 0:
            between()
        return found

    monkeypatch.setattr(holdings, "_bucket_holding", reading)


def test_a_move_between_two_buckets_reads_is_never_shown_as_a_wrong_sum(
        ops, make_sale, monkeypatch):
    sale = make_sale(stock=12, limit=1, shards=3)
    moves = []

    def move_once():  # bucket 0, already read, gives 2 units to bucket 2, read next
        if not moves:
            moves.append(gate_buckets.borrow(sale_id=sale.pk, shards=3, bucket=2,
                                             path="open", units=2))

    _interleaved(monkeypatch, move_once)
    found = _figures(sale)
    assert moves and found.unaccounted == 0, found.as_dict()  # read again, or unknown
    assert sum(found.total(f) for f in ("stock_left", "taken", "in_transit")) == 12


def test_moves_under_every_read_make_the_sum_unknown_not_wrong(ops, make_sale, monkeypatch):
    sale = make_sale(stock=40, limit=1, shards=3)

    turns = []

    def move_each_time():  # units go to bucket 2, then back to bucket 0, and so on
        into = 2 if len(turns) % 2 == 0 else 0
        turns.append(gate_buckets.borrow(sale_id=sale.pk, shards=3, bucket=into,
                                         path="open", units=1))

    _interleaved(monkeypatch, move_each_time)
    assert _figures(sale).unaccounted is None
    assert all(turn.arrived for turn in turns)  # a real move under every read
    html = ops.get(f"/admin/sales/flashsale/{sale.pk}/dashboard/").content.decode()
    assert 'data-figure="unaccounted"' in html and "less None" not in html
    assert "cannot be added up" in html


def test_a_rebuild_half_done_is_not_added_up(make_sale, buyer_ids, monkeypatch):
    sale = make_sale(stock=12, limit=2, shards=3)
    in_zero = [user for user in buyer_ids(60) if bucket_of(user, 3) == 0][:2]
    assert _buy(sale.pk, in_zero) == 2  # queued in bucket 0, not yet written
    seen = []
    rebuild = gate_ops.script("rebuild")

    def rebuilding(*args, **kwargs):
        answer = rebuild(*args, **kwargs)
        if not seen:  # bucket 0 rebuilt, buckets 1 and 2 not yet
            seen.append(_figures(sale))
        return answer

    monkeypatch.setattr(gate_ops, "script",
                        lambda name: rebuilding if name == "rebuild" else script(name))
    lifecycle.gate_rebuild(sale_id=sale.pk)
    [midway] = seen
    assert midway.unaccounted is None, midway.as_dict()
    monkeypatch.undo()
    assert _figures(sale).unaccounted == 0  # done: they add up again


def test_a_bucket_whose_keys_are_lost_makes_left_unknown_not_the_whole_stock(
        ops, make_sale, buyer_ids):
    sale = make_sale(stock=12, limit=1, shards=3)
    assert _buy(sale.pk, buyer_ids(6)) == 6
    lost = bucket_keys(sale.pk, 3)[1]
    connection().delete(lost.meta, lost.stock, lost.fstock, lost.bought)  # restarted empty
    found = _figures(sale)
    assert found.unaccounted is None, found.as_dict()
    html = ops.get(f"/admin/sales/flashsale/{sale.pk}/dashboard/").content.decode()
    assert re.search(r'data-figure="left">\?<', html), "the whole stock shown as left"
    assert "keys lost: rebuild" in html


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_master_down_without_a_replica_is_said_not_a_500(
        ops, ops_api, gate_cluster, make_sale, buyer_ids):
    sale = make_sale(stock=30, limit=1, shards=3)
    assert _buy(sale.pk, buyer_ids(6)) == 6
    lost = gate_cluster.master_of(bucket_keys(sale.pk, 3)[0].meta)
    if lost == gate_cluster.masters[0]:  # the one with a replica would fail over
        lost = gate_cluster.master_of(bucket_keys(sale.pk, 3)[1].meta)
    gate_cluster.kill(lost)
    alive = next(port for port in gate_cluster.masters if port != lost)
    for moment in ("just killed", "the cluster says so", "a new client"):
        if moment == "the cluster says so":
            _until(lambda: gate_cluster.client(alive).execute_command(
                "CLUSTER INFO")["cluster_state"] == "fail")
        if moment == "a new client":
            app_redis_forget()
        for page in ("dashboard", "change"):
            response = ops.get(f"/admin/sales/flashsale/{sale.pk}/{page}/")
            assert response.status_code == 200, (moment, page)
            assert "The buckets cannot be read" in response.content.decode(), (moment, page)
        answer = ops_api.get(f"/api/v1/ops/sales/{sale.pk}/report")
        assert answer.status_code == 503, moment
        assert answer.json()["error"]["code"] == "unavailable"


@pytest.mark.parametrize("sale_id", ["0", "99999999999999999999999", "9223372036854775808"])
def test_hostile_ids_on_the_bucket_pages_are_404s(ops, ops_api, sale_id):
    for url in (f"/admin/sales/flashsale/{sale_id}/dashboard/",
                f"/api/v1/ops/sales/{sale_id}/report"):
        client = ops if url.startswith("/admin") else ops_api
        assert client.get(url).status_code == 404, url
    page = ops.get(f"/admin/sales/flashsale/{sale_id}/change/")
    assert page.status_code in (302, 404)  # the admin's "no such sale": back to the list


def test_staff_without_the_view_right_on_sales_read_no_bucket(client, make_staff, make_sale):
    sale = make_sale(stock=9, shards=3)
    client.force_login(make_staff("shop.view_order"))
    for url in (f"/admin/sales/flashsale/{sale.pk}/dashboard/",
                f"/admin/sales/flashsale/{sale.pk}/change/"):
        response = client.get(url)
        assert response.status_code in (302, 403) and b"data-bucket" not in response.content
