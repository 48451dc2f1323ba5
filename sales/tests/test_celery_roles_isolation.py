"""Risk scoring cannot starve the order pipeline: with a backlog of risk tasks waiting in its
own queue, the pipeline's worker (serving the pipeline queue alone) turns every acknowledged
ticket into an order, and the backlog is left for the risk workers."""

from __future__ import annotations

import time

import pytest

from loadtests import faults
from sales import services
from sales.gate.admission import Purchase
from shop.models import Order

pytestmark = pytest.mark.slow

BACKLOG = 300


@pytest.mark.django_db(transaction=True)
def test_the_pipeline_drains_while_the_risk_queue_holds_a_backlog(gate_redis, make_sale,
                                                                  buyer_ids, tmp_path):
    sale = make_sale(stock=40)
    for user in buyer_ids(40):
        services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=user))
    broker = gate_redis.client()
    for _ in range(BACKLOG):
        faults.task_send(broker_url=gate_redis.url, name="sales.tasks.attempts_drain")
        faults.task_send(broker_url=gate_redis.url, name="sales.tasks.sales_linking")
    assert broker.llen("risk") == 2 * BACKLOG  # routed by role, not to the default queue
    with faults.CeleryWorker(redis_url=gate_redis.url, name="pipeline", log_dir=tmp_path,
                             queues=("pipeline",)) as worker:
        deadline = time.monotonic() + 60
        while Order.objects.filter(sale_id=sale.pk).count() < 40:
            assert time.monotonic() < deadline, f"the pipeline stalled; see {worker.log}"
            faults.task_send(broker_url=gate_redis.url, name="sales.tasks.pipeline_tick")
            time.sleep(0.5)
    assert broker.llen("risk") == 2 * BACKLOG  # the pipeline's worker took none of it
    assert broker.llen("housekeeping") == 0
