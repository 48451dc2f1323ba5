"""The report's first lines (headline.py) on constructed records: each number they state is
the record's, formatted for people, and the verdict says whether the store held."""

from __future__ import annotations

from loadtests.double11 import charts
from loadtests.double11.headline import headline, share
from loadtests.double11.tests.records import a_record, scorecard


def said(record: dict) -> str:
    head = headline(record)
    return "\n".join([head["verdict"], *head["lines"]])


def test_the_headline_states_the_numbers_of_the_record_it_was_given():
    text = said(a_record())

    assert headline(a_record())["held"] is True
    assert "The store held: no unit oversold (8 sold of 8), nobody over the limit of 2, " \
           "all 6 invariant checks met." in text
    assert "8 of 8 units sold: the open stock was gone by 3.2 s after the sale opened (1-s " \
           "samples); every rush ticket settled by T+12 s; 7 orders paid." in text
    assert "genuine shoppers 6 of 8 units (75 %), scalpers 2 (25 %; the goal is at most " \
           "1 %)" in text
    assert "Load at the peak (spike, T+0 to T+5 s): 2,490 requests/s answered of 2,591 " \
           "planned, 96 % of the plan; 96 % of them refreshes of the live state, 83 purchase " \
           "attempts/s at the gate." in text
    assert "Anti-scalper targets: 12 of 18 met; 6 missed, first ring recall; ring precision " \
           "(not measured); stealth recall; and 3 more." in text


def test_other_numbers_give_other_sentences_in_thousands_separators():
    record = a_record(stock=80_000, sold=80_000, sell_out_s=53.0, settled_by_s=58.4,
                      paid=61_234, by_persona={"fan": 71_000, "browser": 8_999, "stealth": 1},
                      achieved_rps=30_999_999.6, planned_rps=31_800_000.0, ratio=0.9748,
                      card=scorecard(met=18, missed=[]))

    record["units"]["sales"] = [7, 8]

    text = said(record)

    assert "no unit oversold (80,000 sold of 80,000)" in text
    assert "80,000 of 80,000 units sold: the open stock was gone by 53 s after the sale " \
           "opened (1-s samples); every rush ticket settled by T+58 s; 61,234 orders paid." in text
    assert "Who got the stock (the rush and its deposit pre-sale): genuine shoppers 79,999 of " \
           "80,000 units (100 %), scalpers 1 (0.0013 %;" in text
    assert "31,000,000 requests/s answered of 31,800,000 planned, 97 % of the plan" in text
    assert "Anti-scalper targets: all 18 met." in text


def test_an_oversold_or_broken_record_says_the_store_did_not_hold():
    record = a_record(sold=10, oversell=2, broken=("tickets_end_once", "units_conserved"))

    head = headline(record)

    assert head["held"] is False
    assert head["verdict"] == ("The store did NOT hold: 2 units oversold; 2 of 6 invariant "
                               "checks BROKEN (tickets_end_once, units_conserved).")
    page = charts.headline_section(record)
    assert '<p class="bad">The store did NOT hold' in page


def test_a_record_whose_invariants_were_never_checked_does_not_say_the_store_held():
    record = a_record()
    record["checks"] = {"at_s": None, "rows": [], "broken": []}

    assert headline(record)["held"] is False
    assert "no invariant was checked" in headline(record)["verdict"]


def test_a_peak_nothing_reached_is_said_as_none_of_the_plan_and_no_sell_out_as_stock_left():
    record = a_record(sold=3, ratio=None, achieved_rps=0.0, sell_out_s=None, settled_by_s=None)

    text = said(record)

    assert "Load: nothing arrived at the peak (spike, T+0 to T+5 s), of 2,591 requests/s " \
           "planned: 0 % of the plan." in text
    assert "the open stock never sold out (5 left); no rush ticket was admitted" in text


def test_a_chaos_run_says_it_held_through_its_faults():
    faults = [{"label": "FLUSHALL"}, {"label": "CLIENT PAUSE 2000"}]
    record = a_record(chaos={"faults": faults})

    assert headline(record)["verdict"].startswith("The store held through 2 injected faults:")


def test_shares_read_as_people_say_them():
    assert [share(v) for v in (0.961, 0.25, 0.05, 0.005, 0.0, None)] == [
        "96 %", "25 %", "5 %", "0.5 %", "0 %", "n/a"]
