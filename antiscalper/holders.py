"""Who holds each identifier among a sale's participants, and how many hold it anywhere:
the graph `antiscalper.linking` finds clusters in. Proven and claimed holders, a phone's
registered owner, a building's genuine customers and the newcomers of a copied instrument
or a number confirmed again are told apart here (see linking's docstring for why each
matters). Instruments are held by the gateway's fingerprint; a confirmed phone also as
`verified_phone`, the number its code reached."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Count, Min

from antiscalper import established, phone_blocks
from antiscalper.models import AttemptSignal
from core.devices import ISSUED_KIND, device_issued
from shop.models import Address, Customer, Order, Payment
from shop.phone_blocks import phone_block

# IN lists are sent in slices: a big sale has more participants than SQLite takes parameters
IN_SLICE = 5000


def sliced(values) -> list[list]:
    values = list(values)
    return [values[i:i + IN_SLICE] for i in range(0, len(values), IN_SLICE)]


# Identifier kinds a shopper can copy from someone else (typed or sent as a header). The
# others are proven when held through `proven` (see the module's docstring).
CLAIMED = frozenset({"device", "subnet", "address", "building", phone_blocks.KIND})


class Held:
    """Who holds each identifier: `holders` (anyhow), `proven` (in a way no one else can
    copy: a succeeded payment, the registered phone once confirmed by a code) and `owner`
    (a phone's registered account)."""

    def __init__(self) -> None:
        self.holders: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.proven: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.owner: dict[tuple[str, str], int] = {}
        # Established holders a copied instrument's newcomers are counted with (see
        # `_copied_instruments_apart`): their group is as large as if they were tied to them.
        self.standing_in: dict[tuple[str, str], int] = {}
        # A building's genuine customers (they bought there before the sale): never tied by it.
        self.established: dict[tuple[str, str], set[int]] = {}
        # The established participants (antiscalper.established): who may be a household.
        self.settled: set[int] = set()
        # An issued browser id's holders seen on it before the sale (its household, perhaps).
        self.before: dict[tuple[str, str], set[int]] = {}
        # Customers a claimed detail's newcomers copied: counted into the newcomers' cluster.
        self.standing_claimed: dict[tuple[str, str], int] = {}

    def linked(self, key: tuple[str, str]) -> set[int]:
        """The holders this identifier may tie together: everyone but the registered owner
        of a phone that others copied into their address books."""
        owner = self.owner.get(key)
        tied = self.holders[key] - {owner} if owner is not None else self.holders[key]
        return tied - self.established.get(key, set())

    def proven_linked(self, key: tuple[str, str]) -> set[int]:
        return set() if key[0] in CLAIMED else self.proven[key]


# Kinds held through the sale's own signals: their population is counted within the sale.
SIGNAL_KINDS = ("device", "subnet")


def identifiers(sale_id: int, nodes: set[int] | None = None, *, raw: bool = False,
                ) -> tuple[Held, dict]:
    """(who holds each identifier among the sale's participants, identifier -> accounts
    holding it anywhere). `nodes`: only these participants (antiscalper.incremental, which
    counts SIGNAL_KINDS over the whole sale itself); `raw`: what they hold as they hold it,
    before any population is asked or any holder moved apart (its identifier index)."""
    held = Held()
    holders = held.holders
    seen = defaultdict(set)
    signals, found = AttemptSignal.objects.filter(sale_id=sale_id), set()
    for part in [None] if nodes is None else sliced(nodes):
        for user_id, device, subnet in (signals if part is None else signals.filter(
                user_id__in=part)).values_list("user_id", "device", "subnet").order_by() \
                .distinct():
            found.add(user_id)
            for kind, value in zip(SIGNAL_KINDS, (device, subnet), strict=True):
                if value:
                    seen[(kind, value)].add(user_id)
    if nodes is None:
        nodes = found | set(Order.objects.filter(sale_id=sale_id).values_list("user_id",
                                                                               flat=True))
    holders.update(seen)
    population = {key: len(users) for key, users in seen.items()}
    for (kind, value), users in seen.items():  # an id the store issued: proven (core.devices)
        if kind == "device" and device_issued(value):
            holders[(ISSUED_KIND, value)] |= users
            held.proven[(ISSUED_KIND, value)] |= users
    for part in sliced(nodes):
        for phone, user_id, confirmed, verified in Customer.objects.filter(
                user_id__in=part).values_list("phone", "user_id", "phone_verified_at",
                                              "verified_phone"):
            holders[("phone", phone)].add(user_id)
            held.owner[("phone", phone)] = user_id
            if block := phone_block(phone):
                holders[(phone_blocks.KIND, block)].add(user_id)
            if confirmed is not None:  # a code sent to it came back: whoever holds the SIM
                held.proven[("phone", phone)].add(user_id)
            if verified:  # the number the code reached, however it was written
                holders[("verified_phone", verified)].add(user_id)
                held.proven[("verified_phone", verified)].add(user_id)
        for norm, building, phone, user_id in Address.objects.filter(
                customer__user_id__in=part).values_list(
                "normalized", "building", "phone", "customer__user_id"):
            holders[("address", norm)].add(user_id)
            if building:
                holders[("building", building)].add(user_id)
            if phone:
                holders[("phone", phone)].add(user_id)
                if block := phone_block(phone):
                    holders[(phone_blocks.KIND, block)].add(user_id)
        # The gateway's fingerprint, never the string the client sent: one card written
        # "4111 1111..." and "4111-1111..." is one instrument (shop.payments).
        for fingerprint, user_id, status in Payment.objects.filter(user_id__in=part).exclude(
                fingerprint="").values_list("fingerprint", "user_id", "status").order_by() \
                .distinct():
            holders[("payment", fingerprint)].add(user_id)
            if status == Payment.Status.SUCCEEDED:  # the gateway charged it: not a guess
                held.proven[("payment", fingerprint)].add(user_id)
    if raw:
        return held, population
    wanted = defaultdict(set)
    for (kind, value), users in holders.items():
        if len(users) >= 2:  # an identifier only one participant holds links no one
            wanted[kind].add(value)
    phones: dict[str, set[int]] = defaultdict(set)
    for part in sliced(wanted["phone"]):
        for phone, user_id in Customer.objects.filter(phone__in=part).values_list(
                "phone", "user_id"):
            phones[phone].add(user_id)
            held.owner[("phone", phone)] = user_id  # registered by someone outside the sale
        for phone, user_id in Address.objects.filter(phone__in=part).values_list(
                "phone", "customer__user_id"):
            phones[phone].add(user_id)
        population.update((("phone", p), len(phones[p])) for p in part if p in phones)
    for part in sliced(wanted["address"]):
        population.update((("address", n), c) for n, c in Address.objects.filter(
            normalized__in=part).values("normalized")
            .annotate(c=Count("customer", distinct=True)).values_list("normalized", "c"))
    for part in sliced(wanted["payment"]):
        population.update((("payment", i), c) for i, c in Payment.objects.filter(
            fingerprint__in=part).values("fingerprint")
            .annotate(c=Count("user", distinct=True)).values_list("fingerprint", "c"))
    for part in sliced(wanted["verified_phone"]):
        population.update((("verified_phone", v), c) for v, c in Customer.objects.filter(
            verified_phone__in=part).values("verified_phone")
            .annotate(c=Count("pk")).values_list("verified_phone", "c"))
    opened = established.sale_opened_at(sale_id)
    for key, genuine in _genuine_customers(wanted["building"], opened).items():
        population[key], held.established[key] = len(genuine), genuine
    _copied_instruments_apart(held, population, wanted["payment"], opened)
    _copied_devices_apart(held, population, wanted[ISSUED_KIND], opened)
    _late_confirmations_apart(held, population, wanted["verified_phone"], opened)
    _buildings_within_addresses(held)
    phone_blocks.blocks_weigh(held, population, opened)
    held.settled = established.established_among(
        {user for key, users in held.holders.items()
         if key[0] in established.HOUSEHOLD_KINDS and len(users) >= 2 for user in users},
        opened)  # who may be a household (established.households_apart, in linking)
    return held, population


def _genuine_customers(buildings: set[str], opened: datetime | None,
                       ) -> dict[tuple[str, str], set[int]]:
    """("building", key) -> the accounts delivering there that were established customers
    when the sale opened (antiscalper.established: a bought order 30 days old or more, in no
    sale they were flagged in): the customers a ring's dormant or fresh accounts are not,
    however many cheap items they bought the week before."""
    genuine: dict[tuple[str, str], set[int]] = {("building", b): set() for b in buildings}
    if opened is None:
        return genuine
    for part in sliced(buildings):
        pairs = list(Address.objects.filter(building__in=part).values_list(
            "building", "customer__user_id").order_by().distinct())
        bought: set[int] = set()
        for some in sliced({user for _, user in pairs}):
            bought |= established.established_among(some, opened)
        for building, user in pairs:
            if user in bought:
                genuine[("building", building)].add(user)
    return genuine


def _buildings_within_addresses(held: Held) -> None:
    """A building whose holders all share one exact address says nothing the address does
    not: it is left out, so a cluster's explanation names each tie once. (Each holder's
    addresses intersected: linear in the holdings, where comparing every building with every
    address would be quadratic in a big sale.)"""
    addresses_of: dict[int, set[str]] = defaultdict(set)
    for (kind, value), users in held.holders.items():
        if kind == "address":
            for user in users:
                addresses_of[user].add(value)
    for key in [k for k in held.holders if k[0] == "building"]:
        tied = held.holders[key]
        if len(tied) >= 2 and set.intersection(*(addresses_of[u] for u in tied)):
            del held.holders[key]


def _copied_instruments_apart(held: Held, population: dict, fingerprints: set[str],
                              opened: datetime | None) -> None:
    """A payment instrument is a string the (simulated) gateway charges whoever sends it, so
    a charge proves the instrument (its fingerprint) only for its established holders: the
    first account ever charged on it, and those charged on it before the sale opened.
    Accounts first charged on it since then may have copied it: they are tied to each other
    through it (their own proven group), never to an established holder, as an address-book
    copy of a phone never ties its copier to the phone's registered owner."""
    firsts: dict[str, dict[int, datetime]] = defaultdict(dict)
    for part in sliced(fingerprints):
        for fingerprint, user_id, first in Payment.objects.filter(
                fingerprint__in=part, status=Payment.Status.SUCCEEDED).values(
                "fingerprint", "user_id").annotate(first=Min("created_at")).values_list(
                "fingerprint", "user_id", "first"):
            firsts[fingerprint][user_id] = first
    for fingerprint, charged in firsts.items():
        _newcomers_apart(held, population, ("payment", fingerprint), charged, opened,
                         "first charged since the sale opened")


def _copied_devices_apart(held: Held, population: dict, devices: set[str],
                          opened: datetime | None) -> None:
    """An issued device id (core.devices) is proven for its established holders: those seen
    on it before this sale opened (its first holder within this sale owns nothing: an id
    that first appears in a sale appears for the ring that was handed it). Accounts first
    seen on it since are tied to each other through it, counted with those holders, never
    tied to them, as for a copied card. Its population is every account seen on it, any
    sale; its holders before the sale are recorded (`before`) as its household, perhaps."""
    firsts: dict[str, dict[int, datetime]] = defaultdict(dict)
    for part in sliced(devices):
        for device, user_id, first in AttemptSignal.objects.filter(device__in=part).values(
                "device", "user_id").annotate(first=Min("at")).values_list(
                "device", "user_id", "first"):
            firsts[device][user_id] = first
    for device, seen in firsts.items():
        population[(ISSUED_KIND, device)] = len(seen)
        held.before[(ISSUED_KIND, device)] = {user for user, first in seen.items()
                                         if opened is not None and first < opened}
        _newcomers_apart(held, population, (ISSUED_KIND, device), seen, opened,
                         "first seen on it since the sale opened", first_owns=False)
    for device in devices:  # the same value as a claimed device would tie them all again
        held.holders.pop(("device", device), None)


def _late_confirmations_apart(held: Held, population: dict, numbers: set[str],
                              opened: datetime | None) -> None:
    """A confirmed phone ties the accounts that confirmed one number (the same SIM read the
    codes, whatever way each wrote the number), but carriers hand old numbers to new people:
    as with an instrument, its established holders (the first account that confirmed it, and
    those that did before the sale opened) are never tied to accounts that confirmed it since;
    those are tied to each other and counted with them."""
    firsts: dict[str, dict[int, datetime]] = defaultdict(dict)
    for part in sliced(numbers):
        for number, user_id, at in Customer.objects.filter(verified_phone__in=part).values_list(
                "verified_phone", "user_id", "phone_verified_at"):
            if at is not None:
                firsts[number][user_id] = at
    for number, confirmed in firsts.items():
        _newcomers_apart(held, population, ("verified_phone", number), confirmed, opened,
                         "confirmed since the sale opened")


def _newcomers_apart(held: Held, population: dict, key: tuple[str, str],
                     firsts: dict[int, datetime], opened: datetime | None, label: str,
                     *, first_owns: bool = True) -> None:
    """Move the accounts that came to `key` after its established holders (the first one, and
    those before the sale opened) into a group of their own, counted with those holders.
    `first_owns=False`: only those before the sale opened are established (a browser's id
    cannot be taken from its first holder within the sale it first appears in)."""
    owner = {min(firsts, key=lambda user: (firsts[user], user))} if first_owns else set()
    established = owner | {user for user, first in firsts.items()
                           if opened is not None and first < opened}
    newcomers = (held.proven[key] & set(firsts)) - established
    if not newcomers:
        return
    apart = (key[0], f"{key[1]} ({label})")
    held.holders[key] -= newcomers
    held.proven[key] -= newcomers
    held.holders[apart] |= newcomers
    held.proven[apart] |= newcomers
    held.standing_in[apart] = len(established)
    population[apart] = population.get(key, len(firsts))
