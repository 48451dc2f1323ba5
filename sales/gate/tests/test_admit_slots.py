"""The purchase value object fills admit.lua's slots by name: the names in
`sales.gate.admission` are the script header's, slot for slot, and each named slot holds what
its name says (a key or an argument moved by one place would sell with the wrong data)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from antiscalper.mirror import BLACKLIST_KEYS, READY_KEY
from sales.gate import admission
from sales.gate.admission import ADMIT_ARGV, ADMIT_KEYS, DATASET_ARG, Purchase
from sales.gate.keys import (
    ATTEMPTS_CAP,
    FCODE_GUESS_LIMIT,
    FCODE_GUESS_WINDOW_SECONDS,
    SIGNALS_KEY,
    TICKET_TTL_SECONDS,
    SaleKeys,
    code_hash,
    guess_keys,
    script_source,
)

HEADER_SLOT = re.compile(r"^-- (KEYS|ARGV)\[(\d+)\] (\w+)", re.M)


def _header(kind: str) -> list[str]:
    slots = [(int(n), name) for k, n, name in HEADER_SLOT.findall(script_source("admit"))
             if k == kind]
    assert [n for n, _ in slots] == list(range(1, len(slots) + 1)), f"{kind} numbered 1..n"
    return [name for _, name in slots]


def test_the_slot_names_are_the_script_headers():
    assert list(ADMIT_KEYS) == _header("KEYS")
    assert list(ADMIT_ARGV) == _header("ARGV")


def test_the_script_reads_no_slot_beyond_its_header():
    source = script_source("admit")
    used = {(kind, int(n)) for kind, n in re.findall(r"\b(KEYS|ARGV)\[(\d+)\]", source)}
    assert max(n for kind, n in used if kind == "KEYS") == len(ADMIT_KEYS)
    assert max(n for kind, n in used if kind == "ARGV") == len(ADMIT_ARGV)


@pytest.fixture
def purchase() -> Purchase:
    return Purchase(sale_id=7, user_id=42, quantity=2, address_id=9, idempotency_key="k-1",
                    device="dev-1", ip="10.1.2.3", fcode="abcde-fghij", client='{"ua":"x"}')


def test_each_key_slot_holds_the_key_its_name_says(purchase):
    keys = dict(zip(ADMIT_KEYS, admission.admit_keys(purchase, "T-1"), strict=True))
    sale = SaleKeys(7)
    account_guesses, device_guesses = guess_keys(42, "dev-1")
    assert keys == {
        "meta": sale.meta, "stock": sale.stock, "bought": sale.bought, "idem": sale.idem,
        "queue": sale.queue, "seq": sale.seq, "ticket": sale.ticket("T-1"),
        "reservers": sale.reservers, "blacklist_account": BLACKLIST_KEYS["account"],
        "blacklist_device": BLACKLIST_KEYS["device"], "blacklist_ip": BLACKLIST_KEYS["ip"],
        "fstock": sale.fstock, "fcodes": sale.fcodes, "rights": sale.rights,
        "guesses_account": account_guesses, "guesses_device": device_guesses,
        "signals": SIGNALS_KEY, "blacklist_ready": READY_KEY, "attempts": sale.attempts,
        "rate": sale.rate(42),
    }


def test_each_argument_slot_holds_the_value_its_name_says(purchase):
    argv = dict(zip(ADMIT_ARGV, admission.admit_argv(purchase, ticket="T-1", now_ms=1234),
                    strict=True))
    assert argv == {
        "user": 42, "quantity": 2, "now_ms": 1234, "idempotency_key": "k-1", "ticket": "T-1",
        "device": "dev-1", "ip": "10.1.2.3", "queue_bound": settings.GATE_QUEUE_BOUND,
        "ticket_ttl": TICKET_TTL_SECONDS, "address": 9, "fcode_hash": code_hash("ABCDEFGHIJ"),
        "guess_limit": FCODE_GUESS_LIMIT, "guess_window": FCODE_GUESS_WINDOW_SECONDS,
        "client": '{"ua":"x"}', "attempts_cap": ATTEMPTS_CAP,
        "rate_limit": settings.PURCHASE_RATE_LIMIT,
        "rate_window": settings.PURCHASE_RATE_WINDOW_SECONDS, "dataset": "", "shards": 1,
        "borrow": "0",
    }
    assert ADMIT_ARGV[DATASET_ARG] == "dataset"


def test_a_purchase_without_options_sends_empty_slots():
    argv = dict(zip(ADMIT_ARGV, admission.admit_argv(Purchase(sale_id=1, user_id=2),
                                                    ticket="T", now_ms=5), strict=True))
    assert (argv["idempotency_key"], argv["address"], argv["fcode_hash"], argv["device"]) == (
        "", "", "", "")
