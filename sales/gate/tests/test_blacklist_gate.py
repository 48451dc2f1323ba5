"""The blacklist as the gate sees it: a change takes effect on the next purchase, an
allowlist entry clears it, and a lost mirror makes the gate fail closed until rebuilt."""

from __future__ import annotations

import pytest

from antiscalper import services as antiscalper
from antiscalper.mirror import READY_KEY
from core.errors import DomainError
from sales import services
from sales.gate.admission import Purchase

pytestmark = pytest.mark.django_db(transaction=True)  # the mirror moves after commit


def attempt(sale, user_id, **extra) -> str:
    try:
        services.purchase_admit(purchase=Purchase(sale_id=sale.pk, user_id=user_id, **extra))
        return "admitted"
    except DomainError as refused:
        return refused.code


def test_a_blacklist_change_takes_effect_on_the_next_purchase(make_sale, buyer_ids):
    sale = make_sale(limit=5)
    [user] = buyer_ids(1)
    assert attempt(sale, user) == "admitted"
    entry, _ = antiscalper.blacklist_add(kind="account", value=str(user), reason="bot farm")
    assert attempt(sale, user) == "blocked"
    antiscalper.blacklist_deactivate(entry_id=entry.pk)
    assert attempt(sale, user) == "admitted"


def test_an_allowlist_entry_overrides_the_blacklist(make_sale, buyer_ids):
    sale = make_sale()
    [user] = buyer_ids(1)
    antiscalper.blacklist_add(kind="device", value="shared-phone", reason="many accounts")
    assert attempt(sale, user, device="shared-phone") == "blocked"
    antiscalper.allowlist_add(kind="device", value="shared-phone", reason="appeal upheld")
    assert attempt(sale, user, device="shared-phone") == "admitted"


def test_a_lost_mirror_fails_closed_until_the_gate_is_rebuilt(make_sale, buyer_ids,
                                                              redis_client):
    sale = make_sale()
    blocked, fan = buyer_ids(2)
    antiscalper.blacklist_add(kind="account", value=str(blocked), reason="scalper")
    redis_client.delete(READY_KEY, "bl:account")  # the mirror's keys vanish
    assert attempt(sale, fan) == "unavailable"
    assert attempt(sale, blocked) == "unavailable"
    services.gate_rebuild(sale_id=sale.pk)
    assert attempt(sale, fan) == "admitted"
    assert attempt(sale, blocked) == "blocked"
