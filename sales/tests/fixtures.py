"""Sales fixtures: sales with loaded gates on the real Redis, and many real buyers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone

from antiscalper.models import RuleSetting
from antiscalper.rules import RULES
from loadtests.faults import FrontDoor, RedisServer
from sales import services
from sales.gate import admission
from sales.models import FlashSale
from sales.tests.admin_world import sale_rows
from sales.web import sale_pages
from shop.seeding import seed_customers, username_for


@pytest.fixture(autouse=True)
def _clean_memo():
    admission.sold_out_memo_clear()
    admission._memo_attempts.clear()
    sale_pages._live_memo.clear()
    yield
    admission.sold_out_memo_clear()
    admission._memo_attempts.clear()
    sale_pages._live_memo.clear()


@pytest.fixture
def make_sale(sku):
    def make(*, stock: int = 100, limit: int = 1, starts_in: float = -1, lasts: float = 3600,
             load: bool = True, **extra) -> FlashSale:
        now = timezone.now()
        sale = services.sale_create(
            sku=sku, title="Mi 6 launch", price=Decimal("1999.00"), stock=stock,
            per_user_limit=limit, starts_at=now + timedelta(seconds=starts_in),
            ends_at=now + timedelta(seconds=starts_in + lasts), **extra,
        )
        if load:
            services.gate_load(sale_id=sale.pk)
            sale.refresh_from_db()
        return sale
    return make


@pytest.fixture
def live_sale(make_sale) -> FlashSale:
    return make_sale()


@pytest.fixture
def buyer_ids(db):
    """user ids of N seeded customers (bulk-inserted, with addresses)."""
    def make(count: int, start: int = 1) -> list[int]:
        seed_customers(count=count, start=start)
        names = [username_for(i) for i in range(start, start + count)]
        return list(get_user_model().objects.filter(username__in=names)
                    .order_by("pk").values_list("pk", flat=True))
    return make


@pytest.fixture
def draw_sale(make_sale):
    """A live draw sale whose entries closed a minute ago (or in `closes_in` seconds)."""
    def make(*, stock: int = 2, closes_in: float = -60, load: bool = False, **extra):
        now = timezone.now()
        return make_sale(stock=stock, mode="draw", load=load, lasts=3 * 3600,
                         reservation_opens_at=now - timedelta(hours=2),
                         reservation_closes_at=now + timedelta(seconds=closes_in), **extra)
    return make


@pytest.fixture
def reservation_sale(make_sale):
    """A reservation sale opening in two hours, its reservation window open now (by default)."""
    def make(*, opens_in: float = -3600, closes_in: float = 3600, **extra):
        now = timezone.now()
        return make_sale(mode="reservation", starts_in=7200, load=False,
                         reservation_opens_at=now + timedelta(seconds=opens_in),
                         reservation_closes_at=now + timedelta(seconds=closes_in), **extra)
    return make


def app_redis_forget() -> None:
    """Drop every Redis client (and memo of what Redis said) this process caches, so the next
    call connects to settings.REDIS_URL as it is now."""
    from antiscalper import mirror
    from core import redis_client
    from sales.gate import hotline
    from sales.gate import keys as gate_keys

    if redis_client.connection.cache_info().currsize:
        redis_client.connection().close()
    redis_client.connection.cache_clear()
    redis_client.gate_forget()
    gate_keys.script.cache_clear()
    mirror._script.cache_clear()
    admission._admit_keys.cache_clear()
    hotline.forget()
    admission.sold_out_memo_clear()
    admission._memo_attempts.clear()
    sale_pages._live_memo.clear()


@dataclass
class GateRedis:
    """The app's Redis for one test: a private server behind a front door (app URL: the
    door's), so a test can restart, flush, pause or fail it over under the app's feet."""

    server: RedisServer
    door: FrontDoor
    directory: Path

    @property
    def url(self) -> str:
        return self.door.url

    def client(self):
        """A control client straight to the server behind the door now."""
        return self.server.client()

    def replica(self, name: str = "replica") -> RedisServer:
        """Start a replica of the server (stopped at the end of the test)."""
        replica = RedisServer.replica_of(self.server, directory=self.directory / name)
        self._started.append(replica)
        return replica

    def forget(self) -> None:
        """Drop the app's cached clients (as a process restart would)."""
        app_redis_forget()

    def __post_init__(self) -> None:
        self._started: list[RedisServer] = []


@pytest.fixture
def gate_redis(settings, tmp_path):
    """Point the whole app (gate, pipeline, hot lines, blacklist mirror) at a private
    redis-server behind a FrontDoor for this test; Django's cache stays on the suite's Redis."""
    directory = tmp_path / "gate-redis"
    server = RedisServer(directory=directory / "server").start()
    door = FrontDoor(server.address)
    app_redis_forget()
    settings.REDIS_URL = door.url
    handle = GateRedis(server=server, door=door, directory=directory)
    try:
        yield handle
    finally:
        app_redis_forget()
        door.close()
        for started in [*handle._started, server]:
            started.kill()


@pytest.fixture
def gate_cluster(settings, tmp_path):
    """A real Redis Cluster (three masters, a replica of the first: `core.local_cluster`) for
    the gate of this test: REDIS_CLUSTER_URL points at it, everything else stays on the
    suite's Redis. Stopped at the end."""
    from core.local_cluster import cluster_start

    cluster = cluster_start(tmp_path / "cluster")
    app_redis_forget()
    settings.REDIS_CLUSTER_URL = cluster.url
    try:
        yield cluster
    finally:
        app_redis_forget()
        cluster.stop()


@pytest.fixture
def twin_worlds(make_customer, sku, settings):
    """The rush path's parity tests: the same sales and buyers built twice, one world per
    application (sales.tests.rush_harness)."""
    from sales.tests.rush_harness import World

    settings.PURCHASE_RATE_LIMIT = 3
    now = timezone.now()
    return (World(now=now, make_customer=make_customer, sku=sku),
            World(now=now, make_customer=make_customer, sku=sku))


# ---- the ops admin's tests (sales/tests/test_admin_languages.py, sales/web/tests/test_admin_*)

@pytest.fixture
def rules_seeded(db) -> None:
    """The rules' rows the migrations seed (a transactional test's flush removed them)."""
    for code, rule in RULES.items():
        RuleSetting.objects.get_or_create(code=code, defaults={
            "threshold": rule.threshold, "weight": rule.weight, "action": rule.action})


@pytest.fixture
def ops_desk(make_staff):
    """A member of the ops group, as ops accounts are made (setup_ops_group)."""
    call_command("setup_ops_group", stdout=StringIO())
    user = make_staff()
    user.groups.add(Group.objects.get(name="ops"))
    return user


@pytest.fixture
def ops_world(make_customer, make_sale, make_order) -> dict:
    """One sale and one of every ops record about one shopper in it (`sale_rows`)."""
    return sale_rows(make_customer=make_customer, make_sale=make_sale, make_order=make_order)
