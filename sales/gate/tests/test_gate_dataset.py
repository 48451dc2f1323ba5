"""A gate sells only on the Redis dataset it was loaded on; a Redis that comes back different
fails closed until rebuilt, and the tickets it forgot resolve as `gate_lost`."""

from __future__ import annotations

import pytest

from antiscalper import mirror
from core.errors import DomainError
from core.redis_dataset import dataset_of
from sales import selectors, services
from sales.gate import holdings, hotline
from sales.gate import keys as gate_keys
from sales.gate.admission import Purchase
from sales.models import RejectedTicket
from sales.pipeline import orders as pipeline
from sales.pipeline import reconcile
from shop.models import Order
from shop.tests.fixtures import client_for


def _refusal(sale, user) -> str:
    with pytest.raises(DomainError) as refused:
        services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=user))
    return refused.value.code


def test_a_gate_stamped_with_another_dataset_sells_nothing_until_rebuilt(
        live_sale, buyer_ids, redis_client, settings):
    users = buyer_ids(3)
    queued = services.purchase_admit(purchase=Purchase(
        sale_id=live_sale.pk, user_id=users[0])).ticket
    keys = gate_keys.SaleKeys(live_sale.pk)
    assert redis_client.hget(keys.meta, "dataset").decode() == dataset_of(
        gate_keys.connection())
    # What a restart from an older snapshot looks like to the gate: keys that look loaded,
    # stamped with a server that is gone.
    redis_client.hset(keys.meta, "dataset", "0123456789abcdef:old-replid")
    assert holdings.state(sale_id=live_sale.pk).stale
    assert _refusal(live_sale, users[1]) == "unavailable"
    assert not reconcile.sale_reconcile(sale_id=live_sale.pk).clean

    settings.GATE_AUTO_REBUILD = False
    assert reconcile.gates_watch() == [live_sale.pk]
    assert _refusal(live_sale, users[1]) == "unavailable"  # still closed: no auto rebuild
    settings.GATE_AUTO_REBUILD = True
    assert reconcile.gates_watch() == [live_sale.pk]
    live_sale.refresh_from_db()
    # The queue survived with the dataset: its tickets are real admissions and keep their
    # units (the epoch stays), so the rebuilt gate counts them and they become orders.
    assert live_sale.gate_epoch == 0 and live_sale.gate_rebuilt_at is not None
    assert holdings.stock_left(sale_id=live_sale.pk) == live_sale.stock - 1
    services.purchase_admit(purchase=Purchase(sale_id=live_sale.pk, user_id=users[1]))
    assert reconcile.gates_watch() == []
    pipeline.drain(sale_id=live_sale.pk)
    assert services.ticket_resolve(ticket=queued, user_id=users[0]).status == "confirmed"


def test_a_blacklist_mirror_built_on_another_dataset_is_not_trusted(live_sale, buyer_ids,
                                                                    redis_client):
    [user] = buyer_ids(1)
    redis_client.set(mirror.READY_KEY, "gone:gone")
    assert not mirror.mirror_ready()
    assert _refusal(live_sale, user) == "unavailable"
    services.blacklist_mirror_ensure()
    services.purchase_admit(purchase=Purchase(sale_id=live_sale.pk, user_id=user))


def test_the_hot_line_reads_its_dataset_over_itself_and_again_each_second(monkeypatch):
    line = hotline.line("admit", gate_keys.script_source)
    assert line.dataset() == dataset_of(gate_keys.connection())
    calls = line.calls
    line.dataset()
    assert line.calls == calls  # cached within the second
    monkeypatch.setattr(hotline, "DATASET_CHECK_SECONDS", -1)
    line.dataset()
    assert line.calls == calls + 1  # read again: one round trip for both INFO sections
    line.close()
    assert line._dataset is None  # a reopened line asks before it sends a purchase


def test_a_ticket_redis_forgot_resolves_as_gate_lost_for_its_owner_only(
        live_sale, buyer_ids, redis_client, make_customer):
    users = buyer_ids(3)
    lost = services.purchase_admit(purchase=Purchase(sale_id=live_sale.pk, user_id=users[0])).ticket
    assert selectors.ticket_status(ticket=lost, user_id=users[0]).status == "queued"
    redis_client.flushdb()  # Redis loses the queue entry and the ticket's record
    with pytest.raises(DomainError):  # not yet known lost: the gate was not rebuilt
        selectors.ticket_status(ticket=lost, user_id=users[0])
    with pytest.raises(DomainError):
        services.ticket_resolve(ticket=lost, user_id=users[0])
    services.gate_rebuild(sale_id=live_sale.pk)

    found = services.ticket_resolve(ticket=lost, user_id=users[0])
    assert (found.status, found.reason) == ("rejected", "gate_lost")
    # Settled durably: the database now knows it, so it ends once whatever happens next.
    assert RejectedTicket.objects.get(ticket=lost).reason == "gate_lost"
    for user, ticket in ((users[1], lost),                       # another shopper
                         (users[0], lost[:-1] + ("0" if lost[-1] != "0" else "1")),  # forged
                         (users[0], lost.rsplit("-", 2)[0])):     # no stamp: unprovable
        with pytest.raises(DomainError) as missing:
            services.ticket_resolve(ticket=ticket, user_id=user)
        assert missing.value.code == "not_found"
    assert RejectedTicket.objects.count() == 1
    # The shopper may try again, and the new ticket is served normally.
    again = services.purchase_admit(purchase=Purchase(
        sale_id=live_sale.pk, user_id=users[0])).ticket
    pipeline.drain(sale_id=live_sale.pk)
    assert selectors.ticket_status(ticket=again, user_id=users[0]).status == "confirmed"


def test_a_lost_ticket_a_stale_worker_still_holds_is_never_written_after_it_was_settled(
        live_sale, buyer_ids, redis_client):
    [user] = buyer_ids(1)
    ticket = services.purchase_admit(purchase=Purchase(sale_id=live_sale.pk, user_id=user)).ticket
    held = pipeline.batch_read(sale_id=live_sale.pk, consumer="stale-worker", count=10,
                               min_idle_ms=0)  # read, not yet written
    redis_client.flushdb()
    services.gate_rebuild(sale_id=live_sale.pk)
    assert services.ticket_resolve(ticket=ticket, user_id=user).reason == "gate_lost"
    outcome = pipeline.batch_write(sale=live_sale, batch=held)
    assert not outcome.confirmed and not outcome.released
    assert not Order.objects.filter(ticket=ticket).exists()


def test_the_ticket_api_answers_gate_lost_and_never_queued_forever(live_sale, customer,
                                                                  redis_client):
    api = client_for(customer.user)
    response = api.post(f"/api/v1/sales/{live_sale.pk}/purchase", {}, format="json")
    assert response.status_code == 202
    ticket = response.json()["ticket"]
    redis_client.flushdb()
    reconcile.gates_reconcile()  # GATE_AUTO_REBUILD is on by default
    body = api.get(f"/api/v1/tickets/{ticket}").json()
    assert (body["status"], body["reason"]) == ("rejected", "gate_lost")


def test_every_record_of_a_ticket_keeps_it_whole(live_sale, buyer_ids):
    """Tickets carry their issue time and a MAC now (48 characters and more): the attempt
    signals, risk decisions, orders and rejections must store them whole, or the replay's
    report cannot match an admission to its order."""
    from antiscalper.models import AttemptSignal, RiskDecision
    from sales.pipeline import risk_feed

    [user] = buyer_ids(1)
    ticket = services.purchase_admit(purchase=Purchase(sale_id=live_sale.pk, user_id=user)).ticket
    assert len(ticket) > 40
    risk_feed.attempts_drain(sale_id=live_sale.pk)
    pipeline.drain(sale_id=live_sale.pk)
    assert AttemptSignal.objects.get(ticket=ticket).user_id == user
    assert RiskDecision.objects.get(ticket=ticket).user_id == user
    assert Order.objects.get(ticket=ticket).user_id == user
