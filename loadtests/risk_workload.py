"""The risk benchmark's world: buyers with a history, and the rush the gate writes for them.

The cast is the Double-11 model's (`loadtests.double11.plan.cast`): fans, campus fans behind
one NAT address, scalper fleets on a few shared devices, proxies, drop addresses and cards,
stealth scalpers linked only by an address or a card. The database gets what each persona
would have before the sale (new fleet accounts, drop addresses, past orders and charges, a
few blacklisted cards and addresses), so every rule meets the data it reads. The rush is
simulated as the gate decides it (blacklist, F-codes, per-user limit, stock, in time order)
and written to the sale's attempts stream with the fields `admit.lua` appends, so the
benchmark drains exactly what the Celery task drains in a sale.
"""

from __future__ import annotations

import heapq
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from antiscalper.attempts import Attempt, attempts_record
from antiscalper.mirror import mirror_rebuild
from antiscalper.models import BlacklistEntry, Kind, Source
from core.redis_client import connection
from loadtests.double11 import plan
from sales import services
from sales.gate import keys as gate_keys
from sales.models import FlashSale, Reservation
from shop.addresses import building_normalize
from shop.models import Address, Customer, Order, OrderStatus, Payment, Sku
from shop.payments import instrument_fingerprint
from shop.seeding import seed_catalog, seed_customers, username_for
from shop.services import address_normalize

HORIZON_MS = 120_000          # the spike and the decay: nobody retries after two minutes
BOT_PAUSE_MS = (50, 200)      # bots retry without think time ...
BOT_TRIES = 20                # ... until admitted, or the proxy's budget is spent
FCODE_GUESS_SHARE = 0.05      # bot attempts that try a guessed F-code
PER_USER_LIMIT = plan.PER_USER_LIMIT
CHROME_HEADERS = {"accept": "application/json", "accept-language": "zh-CN,zh;q=0.9",
                  "accept-encoding": "gzip, deflate, br", "sec-fetch-site": "same-origin",
                  "sec-fetch-mode": "cors"}
HEADLESS_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
               "HeadlessChrome/124.0.0.0 Safari/537.36")


@dataclass(frozen=True)
class Shopper:
    user_id: int
    persona: str
    device: str
    ip: str
    client: str         # user agent and headers as JSON, as core.http.client_of makes it
    operator: str = ""


@dataclass(frozen=True)
class Planned:
    """One attempt as the gate decided it, before it has a sale (and so a ticket)."""

    shopper: Shopper
    offset_ms: int      # from the opening
    verdict: str
    fcode: bool


def _client(user_agent: str, rng: random.Random, *, bot: bool) -> str:
    if bot:
        headers = {"accept-encoding": "gzip"}
        if user_agent == HEADLESS_UA:
            headers |= {"accept": "*/*", "sec-ch-ua": '"HeadlessChrome";v="124"'}
    else:
        headers = dict(CHROME_HEADERS)
        if "Chrome/" in user_agent:
            headers |= {"sec-ch-ua": '"Chromium";v="124", "Google Chrome";v="124"',
                        "sec-ch-ua-mobile": "?1" if "Mobile" in user_agent else "?0"}
        if rng.random() < 0.03:  # an odd privacy extension
            headers.pop("accept-language")
    return json.dumps({"ua": user_agent, "h": headers}, separators=(",", ":"))


def _history(shoppers: list[Shopper], cast: plan.Cast, now: datetime, seed: int) -> None:
    """What the database knows before the sale: fleet accounts registered days ago, drop
    addresses, charges on shared and own cards, resellers and hoarders among the fans."""
    rng = random.Random(seed + 1)
    by_name = {a.username: a for a in cast.accounts}
    users = dict(get_user_model().objects.filter(pk__in=[s.user_id for s in shoppers])
                 .values_list("pk", "username"))
    customers = dict(Customer.objects.filter(user_id__in=users).values_list("user_id", "id"))
    fresh, addresses, charges, orders = [], [], [], []
    for shopper in shoppers:
        account = by_name[users[shopper.user_id]]
        if shopper.persona == "scalper":
            fresh.append(shopper.user_id)
        if account.drop_address:
            drop = account.drop_address
            addresses.append(Address(
                customer_id=customers[shopper.user_id], recipient=drop["recipient"],
                phone=drop["phone"], line1=drop["line1"], city=drop["city"],
                postcode=drop["postcode"], normalized=address_normalize(
                    line1=drop["line1"], city=drop["city"], postcode=drop["postcode"]),
                building=building_normalize(
                    line1=drop["line1"], city=drop["city"], postcode=drop["postcode"])))
        scalper = shopper.persona in plan.SCALPER_PERSONAS
        if scalper or rng.random() < 0.4:  # fleets pay from the operator's card
            days = rng.randint(20, 150) + 0.5  # never near the 180-day history edge
            charges.append((shopper.user_id, account.card, now - timedelta(days=days)))
        if not scalper and rng.random() < 0.02:  # a reseller among the fans, or a hoarder
            status = OrderStatus.DELIVERED if rng.random() < 0.5 else OrderStatus.EXPIRED
            orders += [(shopper.user_id, status, 900 + n, now - timedelta(days=10 + n))
                       for n in range(6)]
    for user_id in fresh:
        Customer.objects.filter(user_id=user_id).update(
            joined_at=now - timedelta(days=rng.randint(1, 5), hours=rng.randint(0, 20)))
    Address.objects.bulk_create(addresses, batch_size=1000)
    _orders(orders + [(u, OrderStatus.PAID, None, at) for u, _, at in charges], charges)


def _orders(orders: list[tuple], charges: list[tuple]) -> None:
    rows = Order.objects.bulk_create([
        Order(number=f"B{n:09d}", user_id=user_id, status=status, total=Decimal("99.00"),
              sale_id=sale_id, created_at=at)
        for n, (user_id, status, sale_id, at) in enumerate(orders)], batch_size=1000)
    paid = rows[len(orders) - len(charges):]
    Payment.objects.bulk_create([
        Payment(order_id=order.pk, user_id=user_id, idempotency_key=f"bench-{order.pk}",
                purpose=Payment.Purpose.FULL, amount=Decimal("99.00"), instrument=card,
                fingerprint=instrument_fingerprint(card), status=Payment.Status.SUCCEEDED)
        for order, (user_id, card, _) in zip(paid, charges, strict=True)], batch_size=1000)


def _blacklist(cast: plan.Cast, shoppers: list[Shopper]) -> set[str]:
    """Ops listed one fleet's card, another's drop address and a few bot devices; the
    gate refuses the devices itself, the risk engine finds the card and the address."""
    entries = []
    fleets = [a for a in cast.accounts if a.persona == "scalper"]
    if fleets:
        entries.append((Kind.PAYMENT, fleets[0].card.replace("-", "").lower()))
        drop = fleets[-1].drop_address
        entries.append((Kind.ADDRESS, address_normalize(
            line1=drop["line1"], city=drop["city"], postcode=drop["postcode"])))
    devices = sorted({s.device for s in shoppers if s.persona == "scalper"})[:5]
    entries += [(Kind.DEVICE, device) for device in devices]
    BlacklistEntry.objects.bulk_create([
        BlacklistEntry(kind=kind, value=value, reason="bench", source=Source.MANUAL)
        for kind, value in entries])
    mirror_rebuild()
    return set(devices)


def world(*, buyers: int, seed: int = 15) -> tuple[list[Shopper], set[str]]:
    """Seed `buyers` customers with personas and history; (shoppers, blacklisted devices)."""
    seed_catalog()
    seed_customers(count=buyers)
    names = [username_for(i) for i in range(1, buyers + 1)]
    ids = dict(get_user_model().objects.filter(username__in=names)
               .values_list("username", "pk"))
    cast = plan.cast(usernames=names, fcodes={}, shoppers=buyers, stock=1, fcode_quota=1,
                     seed=seed)
    rng = random.Random(seed)
    shoppers = []
    for account in cast.accounts:
        if account.persona == "browser":
            continue  # only looks
        bot = account.persona == "scalper"
        agent = (HEADLESS_UA if rng.random() < 0.3 else account.user_agent) if bot \
            else account.user_agent
        shoppers.append(Shopper(user_id=ids[account.username], persona=account.persona,
                                device=account.device, ip=account.ip,
                                client=_client(agent, rng, bot=bot),
                                operator=account.operator))
    _history(shoppers, cast, timezone.now(), seed)
    return shoppers, _blacklist(cast, shoppers)


def _first_try(shopper: Shopper, rng: random.Random) -> int:
    if shopper.persona == "scalper":
        return rng.randint(-20, 40)  # at T0 exactly, give or take the bot's clock
    if shopper.persona == "stealth":
        return rng.randint(300, 1500)
    return 250 + int(1000 * rng.lognormvariate(0.0, 0.6))  # a person's reaction, ~1 s


def rush(shoppers: list[Shopper], blocked_devices: set[str], *, attempts: int, stock: int,
         seed: int = 15) -> list[Planned]:
    """`attempts` attempts in time order as the gate decides them: fans try a few times
    with think time and stop once admitted; bots hammer until admitted, or until the
    attempts run out."""
    rng = random.Random(seed + 2)
    heap = [(_first_try(s, rng), n) for n, s in enumerate(shoppers)]
    heapq.heapify(heap)
    tries = {n: 0 for n in range(len(shoppers))}
    bought: dict[int, int] = {}
    planned: list[Planned] = []
    while heap and len(planned) < attempts:
        at, n = heapq.heappop(heap)
        shopper, bot = shoppers[n], shoppers[n].persona == "scalper"
        fcode = bot and rng.random() < FCODE_GUESS_SHARE
        quantity = PER_USER_LIMIT if shopper.persona in plan.SCALPER_PERSONAS else 1
        if at < 0:
            verdict = "not_started"
        elif shopper.device in blocked_devices:
            verdict = "blocked"
        elif fcode:
            verdict = "fcode_invalid"
        elif bought.get(shopper.user_id, 0) + quantity > PER_USER_LIMIT:
            verdict = "limit_reached"
        elif stock < quantity:
            verdict = "sold_out"
        else:
            verdict, stock = "admitted", stock - quantity
            bought[shopper.user_id] = bought.get(shopper.user_id, 0) + quantity
        planned.append(Planned(shopper, at, verdict, fcode))
        tries[n] += 1
        if verdict == "admitted":
            continue
        pause = rng.randint(*BOT_PAUSE_MS) if bot else rng.randint(1000, 3000)
        if tries[n] < (BOT_TRIES if bot else 3) and at + pause < HORIZON_MS:
            heapq.heappush(heap, (at + pause, n))
    return planned


def sale_open(shoppers: list[Shopper], *, opens: datetime, stock: int, seed: int = 15,
              ) -> FlashSale:
    """A live sale opened at `opens`: reservations in the database and their signals in
    Redis (reservation bursts), as the reservation window left them."""
    sku = Sku.objects.get(code="MI9-128-BLK")
    sale = services.sale_create(sku=sku, title="bench: risk scoring", price=Decimal("2999.00"),
                                stock=stock, per_user_limit=PER_USER_LIMIT, starts_at=opens,
                                ends_at=opens + timedelta(hours=2))
    rng = random.Random(seed)  # the same reservations in every sale of a run
    reservers = [s for s in shoppers if s.persona != "fan" or random.Random(s.user_id)
                 .random() < 0.7]
    Reservation.objects.bulk_create([Reservation(sale=sale, user_id=s.user_id)
                                     for s in reservers], batch_size=1000)
    opens_ms = gate_keys.epoch_ms(opens)
    signals = [Attempt(sale_id=sale.pk, user_id=s.user_id, kind="reservation",
                       at_ms=opens_ms - rng.randint(60_000, 7_200_000), opens_ms=opens_ms,
                       device=s.device, ip=s.ip, user_agent="", headers={}, reserved=False,
                       verdict="reservation") for s in reservers]
    for start in range(0, len(signals), 2000):
        attempts_record(attempts=signals[start:start + 2000])
    return sale


def stream_fill(sale: FlashSale, planned: list[Planned], tickets: list[str] | None = None,
                ) -> list[str]:
    """Append the rush to the sale's attempts stream as admit.lua does; the tickets, in the
    order of `planned` ("" where none was issued). Given `tickets`, it appends those again
    (a redelivery)."""
    opens_ms = gate_keys.epoch_ms(sale.starts_at)
    stream, issued = gate_keys.SaleKeys(sale.pk).attempts, []
    pipe = connection().pipeline(transaction=False)
    for n, attempt in enumerate(planned, start=1):
        at, who = opens_ms + attempt.offset_ms, attempt.shopper
        if tickets is not None:
            ticket = tickets[n - 1]
        elif attempt.verdict == "admitted":
            ticket = gate_keys.ticket_new(sale.pk, user_id=who.user_id, issued_ms=at)
        else:
            ticket = ""
        issued.append(ticket)
        pipe.xadd(stream, {"user": who.user_id, "at": at, "verdict": attempt.verdict,
                           "device": who.device, "ip": who.ip, "client": who.client,
                           "fcode": "1" if attempt.fcode else "0", "ticket": ticket})
        if n % 1000 == 0:
            pipe.execute()
    pipe.execute()
    return issued
