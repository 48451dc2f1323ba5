"""Each rule, firing on the behaviour it targets and quiet on the ordinary case.

Every test goes through the real path: attempts_record (Redis counters, table), then
risk_evaluate (Redis reads, batched queries), then the stored decision's fired rules.
"""

from __future__ import annotations

import pytest

from antiscalper import services
from antiscalper.attempts import Keys
from antiscalper.tests.risk_helpers import (
    HEADLESS,
    HUMAN_HEADERS,
    age,
    attempt,
    fired,
    judge,
    past_orders,
    pay_with,
    share_address,
)
from shop.services import address_create

pytestmark = pytest.mark.django_db


def only(decisions: dict) -> dict[str, float]:
    (decision,) = decisions.values()
    return fired(decision)


def test_new_account_fires_for_a_days_old_account_and_not_for_an_old_one(make_customer):
    young, old = make_customer(), make_customer()
    age(old, days=400)
    assert only(judge(attempt(young.user_id)))["new_account"] < 1
    assert "new_account" not in only(judge(attempt(old.user_id)))


def test_reservation_burst_device_fires_when_three_accounts_reserve_on_one_device(customer):
    reservers = [attempt(9001 + n, kind="reservation", device="farm-phone") for n in range(2)]
    reserve = attempt(customer.user_id, kind="reservation", device="farm-phone")
    judge(*reservers, reserve)
    assert only(judge(attempt(customer.user_id, device="farm-phone"))) \
        .get("reservation_burst_device") == 3
    assert "reservation_burst_device" not in only(judge(attempt(customer.user_id,
                                                                device="own-phone")))


def test_reservation_burst_ip_fires_for_thirty_reservations_in_a_minute_only(customer):
    burst = [attempt(9100 + n, kind="reservation", ip="10.7.7.7", after_ms=-600_000 + n * 500)
             for n in range(29)]
    judge(*burst, attempt(customer.user_id, kind="reservation", ip="10.7.7.7",
                          after_ms=-600_000))
    assert only(judge(attempt(customer.user_id, ip="10.7.7.7")))["reservation_burst_ip"] == 30
    spread = [attempt(9200 + n, sale_id=2, kind="reservation", ip="10.7.7.7",
                      after_ms=-3_600_000 + n * 120_000) for n in range(29)]
    judge(*spread, attempt(customer.user_id, sale_id=2, kind="reservation", ip="10.7.7.7",
                           after_ms=-600_000))
    assert "reservation_burst_ip" not in only(judge(attempt(customer.user_id, sale_id=2,
                                                            ip="10.7.7.7")))


def test_fast_after_open_fires_at_50_ms_and_not_at_a_second_and_a_half(customer):
    assert only(judge(attempt(customer.user_id, after_ms=50)))["fast_after_open"] == 50
    assert "fast_after_open" not in only(judge(attempt(customer.user_id, sale_id=2,
                                                       after_ms=1500)))


def test_robotic_timing_fires_on_metronome_retries_and_not_on_human_ones(customer):
    metronome = [attempt(customer.user_id, after_ms=100 + 500 * n, ticket="")
                 for n in range(5)]
    last = attempt(customer.user_id, after_ms=100 + 500 * 5)
    assert only(judge(*metronome, last))["robotic_timing"] == 0
    human = [attempt(customer.user_id, sale_id=2, after_ms=ms, ticket="")
             for ms in (1800, 4100, 5200, 9300, 11000)]
    assert "robotic_timing" not in only(judge(*human, attempt(customer.user_id, sale_id=2,
                                                               after_ms=14500)))


def test_account_velocity_fires_on_eight_attempts_in_ten_seconds_only(customer):
    rapid = [attempt(customer.user_id, after_ms=1000 + 700 * n, ticket="") for n in range(7)]
    assert only(judge(*rapid, attempt(customer.user_id, after_ms=6000)))["account_velocity"] == 8
    calm = [attempt(customer.user_id, sale_id=2, after_ms=1000 + 4000 * n, ticket="")
            for n in range(3)]
    assert "account_velocity" not in only(judge(*calm, attempt(customer.user_id, sale_id=2,
                                                                after_ms=13000)))


def test_ip_velocity_fires_on_300_attempts_from_one_ip_in_a_bucket(customer):
    flood = [attempt(9300 + n % 50, ip="10.8.8.8", after_ms=30_000 + n, ticket="")
             for n in range(299)]
    mine = attempt(customer.user_id, ip="10.8.8.8", after_ms=30_500)
    assert only(judge(*flood, mine))["ip_velocity"] == 300
    few = [attempt(9300 + n, sale_id=2, ip="10.8.8.8", after_ms=30_000 + n, ticket="")
           for n in range(20)]
    assert "ip_velocity" not in only(judge(*few, attempt(customer.user_id, sale_id=2,
                                                          ip="10.8.8.8", after_ms=30_500)))


def test_shared_address_fires_when_three_accounts_hold_one_address(make_customer):
    holders = [make_customer() for _ in range(3)]
    addresses = [share_address(c) for c in holders]
    lone = make_customer()
    decision = only(judge(attempt(holders[1].user_id, address_id=addresses[1].pk)))
    assert decision["shared_address"] == 3
    assert "shared_address" not in only(judge(attempt(lone.user_id)))
    # The account that wrote the address first is not counted against by those who copied it.
    first = only(judge(attempt(holders[0].user_id, address_id=addresses[0].pk)))
    assert "shared_address" not in first


def test_shared_phone_fires_when_three_accounts_use_one_phone(make_customer):
    owner, *others = [make_customer() for _ in range(3)]
    for other in others:
        services_address(other, phone=owner.phone)
    assert only(judge(attempt(others[0].user_id)))["shared_phone"] == 3  # a copier
    assert "shared_phone" not in only(judge(attempt(owner.user_id)))  # its registered holder
    services_address(make_customer(), phone=make_customer().phone)  # a household of two
    lone = make_customer()
    assert "shared_phone" not in only(judge(attempt(lone.user_id)))


def services_address(customer, *, phone: str):
    return address_create(customer=customer, recipient="Friend", phone=phone,
                          line1=f"{customer.pk} Other Road", city="Beijing", postcode="100000")


def test_shared_payment_fires_when_three_accounts_pay_with_one_card(make_customer, sku):
    payers = [make_customer() for _ in range(3)]
    for payer in payers:
        pay_with(payer, sku, "card-4242")
    couple = [make_customer() for _ in range(2)]
    for payer in couple:
        pay_with(payer, sku, "card-1111")
    assert only(judge(attempt(payers[0].user_id)))["shared_payment"] == 3
    assert "shared_payment" not in only(judge(attempt(couple[0].user_id)))


def test_device_accounts_fires_for_three_accounts_on_one_device(customer):
    others = [attempt(9400 + n, device="shared", after_ms=40_000, ticket="") for n in range(2)]
    assert only(judge(*others, attempt(customer.user_id, device="shared",
                                       after_ms=41_000)))["device_accounts"] == 3
    assert "device_accounts" not in only(judge(attempt(customer.user_id, sale_id=2)))


def test_opening_crowd_device_fires_for_two_accounts_on_one_device_at_the_opening(customer):
    other = attempt(9500, device="d-open", after_ms=20, ticket="")
    assert only(judge(other, attempt(customer.user_id, device="d-open",
                                     after_ms=900)))["opening_crowd_device"] == 2
    late = attempt(9500, sale_id=2, device="d-open", after_ms=60_000, ticket="")
    assert "opening_crowd_device" not in only(judge(late, attempt(
        customer.user_id, sale_id=2, device="d-open", after_ms=900)))


def test_opening_crowd_subnet_fires_for_twenty_accounts_on_one_24_at_the_opening(customer):
    crowd = [attempt(9600 + n, ip=f"10.1.2.{n + 10}", after_ms=1000 + n, ticket="")
             for n in range(19)]
    assert only(judge(*crowd, attempt(customer.user_id, ip="10.1.2.200",
                                      after_ms=2000)))["opening_crowd_subnet"] == 20
    fewer = [attempt(9600 + n, sale_id=2, ip=f"10.1.2.{n + 10}", after_ms=1000, ticket="")
             for n in range(18)]
    assert "opening_crowd_subnet" not in only(judge(*fewer, attempt(
        customer.user_id, sale_id=2, ip="10.1.2.200", after_ms=2000)))


def test_linked_cluster_fires_once_linking_put_the_account_in_a_cluster_of_four(customer,
                                                                               redis_client):
    redis_client.hset(Keys(1).clusters, customer.user_id, 4)
    redis_client.hset(Keys(2).clusters, customer.user_id, 3)
    assert only(judge(attempt(customer.user_id)))["linked_cluster"] == 4
    assert "linked_cluster" not in only(judge(attempt(customer.user_id, sale_id=2)))


def test_headless_agent_fires_on_headless_chrome_and_not_on_chrome(customer):
    assert only(judge(attempt(customer.user_id, user_agent=HEADLESS)))["headless_agent"] == 1
    assert "headless_agent" not in only(judge(attempt(customer.user_id, sale_id=2)))


def test_client_headers_fires_on_missing_and_inconsistent_headers(customer):
    bare = {"accept": "*/*"}  # no Accept-Language, Chrome without sec-ch-ua
    assert only(judge(attempt(customer.user_id, headers=bare)))["client_headers"] == 2
    assert "client_headers" not in only(judge(attempt(customer.user_id, sale_id=2,
                                                      headers=HUMAN_HEADERS)))


def test_resale_history_fires_after_six_flash_sales_bought_in_180_days(make_customer, sku):
    reseller, fan = make_customer(), make_customer()
    past_orders(reseller, sku, status="paid", count=6)
    past_orders(fan, sku, status="delivered", count=5)
    assert only(judge(attempt(reseller.user_id)))["resale_history"] == 6
    assert "resale_history" not in only(judge(attempt(fan.user_id)))


def test_hoarding_fires_after_three_lapsed_orders_or_forfeited_deposits(make_customer, sku):
    hoarder, fan = make_customer(), make_customer()
    past_orders(hoarder, sku, status="expired", count=2)
    past_orders(hoarder, sku, status="forfeited", count=1)
    past_orders(fan, sku, status="expired", count=2)
    assert only(judge(attempt(hoarder.user_id)))["hoarding"] == 3
    assert "hoarding" not in only(judge(attempt(fan.user_id)))


def test_fcode_guessing_fires_after_five_wrong_codes_in_the_sale(customer):
    guesses = [attempt(customer.user_id, kind="fcode", verdict="fcode_invalid",
                       after_ms=5000 + 3000 * n) for n in range(5)]
    assert only(judge(*guesses, attempt(customer.user_id, kind="fcode",
                                        after_ms=30_000)))["fcode_guessing"] == 5
    fewer = [attempt(customer.user_id, sale_id=2, kind="fcode", verdict="fcode_invalid",
                     after_ms=5000 + 3000 * n) for n in range(4)]
    assert "fcode_guessing" not in only(judge(*fewer, attempt(customer.user_id, sale_id=2,
                                                              kind="fcode", after_ms=30_000)))


def test_blacklisted_fires_and_blocks_when_an_identity_is_on_the_mirror(customer, on_commit):
    with on_commit():
        services.blacklist_add(kind="device", value="stolen-device")
    (decision,) = judge(attempt(customer.user_id, device="stolen-device")).values()
    assert fired(decision)["blacklisted"] == 1
    assert decision.decision == "block"
    assert "blacklisted" not in only(judge(attempt(customer.user_id, sale_id=2)))
