"""The attempts the sold-out memo answered reach their sales' streams: each sale's in arrival
order, with admit.lua's fields (plus memo=1), one script call per sale in the batch."""

from __future__ import annotations

import pytest

from sales.gate import admission
from sales.gate.keys import SaleKeys

FIELDS = {"user", "at", "verdict", "device", "ip", "client", "fcode", "ticket", "memo"}


def _record(sale_id: int, user_id: int, at: int) -> None:
    admission.memo_attempt_record(sale_id=sale_id, user_id=user_id, now_ms=at,
                                  device=f"dev-{user_id}", ip="10.0.0.1",
                                  client='{"ua":"x, y","h":{}}')


@pytest.mark.parametrize("order", [(1, 2, 1, 1, 2), (2, 2, 2), (1,)])
def test_a_batch_over_several_sales_lands_in_each_sales_stream_in_order(redis_client, order,
                                                                        monkeypatch):
    monkeypatch.setattr(admission, "MEMO_FLUSH_SIZE", 10_000)
    monkeypatch.setattr(admission, "MEMO_FLUSH_SECONDS", 3600)
    sales = {1: 9_001, 2: 9_002}
    for n, which in enumerate(order):
        _record(sales[which], user_id=100 + n, at=1_000 + n)
    assert admission.memo_attempts_flush() == len(order)
    assert admission.memo_attempts_flush() == 0  # nothing left, nothing written twice
    for which, sale_id in sales.items():
        entries = [f for _, f in redis_client.xrange(SaleKeys(sale_id).attempts)]
        expected = [100 + n for n, w in enumerate(order) if w == which]
        assert [int(e[b"user"]) for e in entries] == expected
        for entry in entries:
            assert {k.decode() for k in entry} == FIELDS
            assert entry[b"verdict"] == b"sold_out" and entry[b"memo"] == b"1"
            assert entry[b"fcode"] == b"0" and entry[b"ticket"] == b""
            assert entry[b"client"] == b'{"ua":"x, y","h":{}}'
            assert int(entry[b"at"]) == 1_000 + expected[entries.index(entry)] - 100


def test_the_batch_flushes_itself_at_its_size(redis_client, monkeypatch):
    monkeypatch.setattr(admission, "MEMO_FLUSH_SIZE", 3)
    monkeypatch.setattr(admission, "MEMO_FLUSH_SECONDS", 3600)
    for n in range(7):
        _record(9_003, user_id=n, at=n)
    assert redis_client.xlen(SaleKeys(9_003).attempts) == 6
    assert admission.memo_attempts_flush() == 1
    assert redis_client.xlen(SaleKeys(9_003).attempts) == 7
