"""The cast of issue 16: a professional ring, a deposit reseller and three false-positive
traps (an office tower, a household, the campus), as the identities each account shows.

Pure Python, like `plan.py` (which calls `cast_more` once its own cast is made). What each
persona is, and why it is built so:

- ring: aged accounts (registered a year or more before the sale) that never bought
  (dormant until the hot sale); one device, one residential IP, one card and one phone of
  its own per account (the phone confirmed through the SMS backend during the run, so it is
  a *verified* identity, yet ties nobody: each number is different); human jitter; and every
  unit goes to one of a few shared delivery buildings, each account writing the building
  differently (another room, unit or floor, abbreviations, case, Chinese forms), so the
  exact address matches nothing and only the building (`shop.addresses`) meets;
- deposit: a reseller's accounts in the deposit pre-sale, paying the deposits from one card
  (the operator's) and shipping to one drop building, written differently per account;
- office: genuine established fans who work in one tower: their office address (each its
  own floor and room) has earlier paid orders delivered to it, so the tower has a genuine
  population; they leave the office through a few egress IPs of one /24;
- household: four genuine established accounts sharing one device, one IP and one address,
  with earlier paid orders there;
- campus (plan.py): genuine fans behind one NAT IP.

The numbers below are assumptions of this model, named where they are made.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

RING_OF_SCALPERS = 0.25         # assumption: a quarter of the fleet is professional rings
DEPOSIT_OF_SCALPERS = 0.15      # assumption: resellers using deposits
OFFICE_OF_FANS = 0.10           # assumption: fans who order to their office tower
HOUSEHOLD_SIZE = 4              # the household of four
FANS_PER_HOUSEHOLD = 40         # assumption: one such household per 40 fans (at least one)
DEPOSIT_FANS_OF_FANS = 0.05     # assumption: genuine fans who buy in the deposit pre-sale
RING_MIN = 4                    # linking's default cluster size: a smaller ring is no ring
RING_BUILDINGS = (2, 3)         # "a few shared delivery buildings" per ring operator
RING_AGE_DAYS = (400, 2000)     # aged: registered one to five years before the sale
GENUINE_AGE_DAYS = (200, 3000)  # established customers
HISTORY_ORDERS = (1, 4)         # earlier paid orders of an established customer
HISTORY_DAYS = (20, 600)        # how long before the sale they were placed
# Mobile prefixes of the three Chinese carriers: a ring buys numbers from many blocks, not a
# sequence (a farm's sequential numbers are the easy case).
MOBILE_PREFIXES = ("134", "135", "136", "137", "138", "150", "151", "152", "157", "158",
                   "159", "182", "183", "187", "188", "130", "131", "132", "155", "156",
                   "185", "186", "133", "153", "180", "181", "189", "177", "199")


@dataclass(frozen=True)
class Building:
    """One delivery building, in the words its addresses are written with."""

    number: int          # the street number
    street: str          # in Latin script, with its kind ("Jianguo Road")
    street_cn: str       # in Chinese ("建国路")
    block: int           # the building (Building 3, 3号楼, 3栋)
    city: str
    postcode: str
    chinese: bool        # written in Chinese (a building is written in one script: a
                         # normaliser can fold "Road" into "Rd", not translate it)


# (street, Chinese street, city, postcode): real streets, invented numbers.
STREETS = (("Jianguo Road", "建国路", "Beijing", "100022"),
           ("Huaqiangbei Road", "华强北路", "Shenzhen", "518031"),
           ("Zhangjiang Road", "张江路", "Shanghai", "201203"),
           ("Tianfu Avenue", "天府大道", "Chengdu", "610041"),
           ("Wensan Road", "文三路", "Hangzhou", "310012"),
           ("Zhongguancun Street", "中关村大街", "Beijing", "100080"),
           ("Tianhe Road", "天河路", "Guangzhou", "510620"),
           ("Guanggu Avenue", "光谷大道", "Wuhan", "430074"))

_CN_NUMERALS = "〇一二三四五六七八九"


def _cn(n: int) -> str:
    """Small numbers in Chinese numerals (3 -> 三, 12 -> 十二, 21 -> 二十一)."""
    if n < 10:
        return _CN_NUMERALS[n]
    tens, units = divmod(n, 10)
    return (_CN_NUMERALS[tens] if tens > 1 else "") + "十" + (_CN_NUMERALS[units] if units else "")


def building_pick(rng: random.Random, *, chinese: bool | None = None) -> Building:
    street, street_cn, city, postcode = rng.choice(STREETS)
    return Building(number=rng.randint(1, 399), street=street, street_cn=street_cn,
                    block=rng.randint(1, 12), city=city, postcode=postcode,
                    chinese=rng.random() < 0.5 if chinese is None else chinese)


def _latin(b: Building, rng: random.Random) -> str:
    floor, room, unit = rng.randint(2, 33), rng.randint(101, 3299), rng.randint(1, 6)
    street = b.street if rng.random() < 0.5 else (b.street.replace("Road", "Rd")
                                                    .replace("Avenue", "Ave")
                                                    .replace("Street", "St"))
    forms = [f"{b.number} {street}, Building {b.block}, Room {room}",
             f"No. {b.number} {street}, Bldg {b.block}, Rm {room}",
             f"{b.number} {street} Block {b.block} Flat {room}",
             f"{b.number} {street}, Tower {b.block}, Unit {unit}, {floor}F",
             f"{b.number} {street}, Bldg. {b.block}, Suite {room}",
             f"{b.number} {street} Blk {b.block}, Apt {room}",
             f"{b.number} {street}, Building {b.block}, Floor {floor}, Room {room}"]
    line = rng.choice(forms)
    return rng.choice([line, line.upper(), line.lower()])


def _chinese(b: Building, rng: random.Random) -> str:
    floor, room, unit = rng.randint(2, 33), rng.randint(101, 3299), rng.randint(1, 6)
    block = rng.choice([str(b.block), _cn(b.block)])
    forms = [f"{b.street_cn}{b.number}号{block}号楼{unit}单元{room}室",
             f"{b.street_cn}{b.number}号{block}栋{room}室",
             f"{b.street_cn}{b.number}号 {block}栋 {_cn(unit)}单元 {floor}层",
             f"{b.street_cn}{b.number}号{block}栋{room}",
             f"{b.street_cn} {b.number}号 {block}号楼 {room}室"]
    return rng.choice(forms)


def address_of(b: Building, rng: random.Random, *, recipient: str, phone: str) -> dict:
    """One account's way of writing the building (the body of POST /api/v1/me/addresses)."""
    line1 = _chinese(b, rng) if b.chinese else _latin(b, rng)
    return {"recipient": recipient, "phone": phone, "line1": line1, "city": b.city,
            "postcode": b.postcode}


def variants(b: Building, rng: random.Random, n: int) -> list[str]:
    """`n` different ways of writing one building (each account's own)."""
    seen: list[str] = []
    for _ in range(50 * n):
        if len(seen) == n:
            break
        line = address_of(b, rng, recipient="", phone="")["line1"]
        if line not in seen:
            seen.append(line)
    return seen


def mobile(rng: random.Random) -> str:
    """A Chinese mobile number from a random carrier block."""
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}"


def home_ip(rng: random.Random, octets: tuple[int, ...]) -> str:
    return f"{rng.choice(octets)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"


def counts_more(*, scalpers: int, fans: int) -> dict[str, int]:
    """How many of the fleet are ring and deposit accounts, and of the fans office and
    household ones (a ring of fewer than RING_MIN accounts would be no ring: it takes
    RING_MIN when the fleet allows it)."""
    ring = round(scalpers * RING_OF_SCALPERS)
    if ring < RING_MIN and scalpers >= 2 * RING_MIN:
        ring = RING_MIN
    deposit = round(scalpers * DEPOSIT_OF_SCALPERS)
    households = max(1, round(fans / FANS_PER_HOUSEHOLD)) if fans >= 2 * HOUSEHOLD_SIZE else 0
    return {"ring": ring, "deposit": deposit, "office": round(fans * OFFICE_OF_FANS),
            "household": households * HOUSEHOLD_SIZE}


def history(rng: random.Random) -> list[int]:
    """Days before the sale of an established customer's earlier paid orders."""
    return sorted((rng.randint(*HISTORY_DAYS) for _ in range(rng.randint(*HISTORY_ORDERS))),
                  reverse=True)


def cast_more(*, cast, take: Iterator[str], rng: random.Random, counts: dict[str, int],
              make: Callable, operator_sizes: Callable, octets: tuple[int, ...]) -> None:
    """Add the ring, deposit, office and household accounts to `cast` (a `plan.Cast`):
    `take` yields fresh usernames, `make(username, persona)` a genuine-looking Account (own
    device, home IP, browser UA, own card) that is then given this persona's identities."""
    accounts = cast.accounts
    for op, size in enumerate(operator_sizes(rng, counts["ring"]), start=1):
        name = f"ring{op}"
        cast.operators[name] = size
        buildings = [building_pick(rng) for _ in range(min(rng.randint(*RING_BUILDINGS), size))]
        for n in range(size):
            a = make(next(take), "ring")
            a.operator, a.joined_days = name, rng.randint(*RING_AGE_DAYS)
            a.phone, a.confirm_phone = mobile(rng), True
            a.drop_address = address_of(buildings[n % len(buildings)], rng,
                                        recipient=f"Li {rng.randint(1, 99)}", phone=a.phone)
            accounts.append(a)
    if counts["deposit"]:
        name = "deposit1"
        cast.operators[name] = counts["deposit"]
        drop, card = building_pick(rng), f"card-{rng.getrandbits(48):x}"
        for _ in range(counts["deposit"]):
            a = make(next(take), "deposit")
            a.operator, a.sale, a.card = name, "deposit", card
            a.joined_days = rng.randint(30, 900)
            a.drop_address = address_of(drop, rng, recipient=f"Zhou {rng.randint(1, 99)}",
                                        phone=mobile(rng))
            accounts.append(a)
    tower = building_pick(rng)
    subnet = home_ip(rng, octets).rsplit(".", 1)[0]
    egress = [f"{subnet}.{rng.randint(2, 254)}" for _ in range(3)]
    for n in range(counts["office"]):
        a = make(next(take), "office", ip=egress[n % len(egress)])
        a.joined_days, a.history = rng.randint(*GENUINE_AGE_DAYS), history(rng)
        a.address = address_of(tower, rng, recipient=f"Fan {a.username}", phone=mobile(rng))
        accounts.append(a)
    for _ in range(counts["household"] // HOUSEHOLD_SIZE):
        home = address_of(building_pick(rng), rng, recipient="Chen family", phone=mobile(rng))
        device, ip = f"dev-{rng.getrandbits(64):016x}", home_ip(rng, octets)
        for _ in range(HOUSEHOLD_SIZE):
            a = make(next(take), "household", ip=ip)
            a.device, a.address = device, dict(home)
            a.joined_days, a.history = rng.randint(*GENUINE_AGE_DAYS), history(rng)
            accounts.append(a)
