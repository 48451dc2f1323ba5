"""The per-persona targets (scorecard.score) on constructed runs: each value is what the
record says, and a target that is missed shows missed, per persona and overall."""

from __future__ import annotations

import pytest

from loadtests.double11 import charts, scorecard
from loadtests.double11.scorecard import NEVER, percentile, score


def run(**overrides) -> dict:
    """A run of 200 fans (ids 1-200), a household of 4 (301-304), a ring of 10 (401-410)
    and a bot fleet of 20 (501-520): the ring caught 8 of 10, two of its members holding 2
    units each of 100 sold; the bots all caught and holding nothing; one household member
    flagged, inside the ring's case."""
    persona_of = {u: "fan" for u in range(1, 201)}
    persona_of |= {u: "household" for u in range(301, 305)}
    persona_of |= {u: "ring" for u in range(401, 411)}
    persona_of |= {u: "scalper" for u in range(501, 521)}
    units = {u: 1 for u in range(1, 97)} | {409: 2, 410: 2}
    flagged = set(range(401, 409)) | set(range(501, 521)) | {301}
    admitted = {u: 1000.0 for u in range(401, 411)} | {u: 1000.0 for u in range(501, 521)}
    decided = {u: 1001.0 for u in range(401, 409)} | {u: 1000.5 for u in range(501, 521)}
    data = dict(persona_of=persona_of, units=units, flagged=flagged,
                cases=[set(range(401, 409)) | {301}, set(range(501, 521))],
                admitted_at=admitted, decided_at=decided,
                cancelled_at={u: 1003.0 for u in range(401, 409)})
    return score(**{**data, **overrides})


def verdicts(card: dict) -> dict[tuple[str, str], bool]:
    return {(r["persona"], r["target"]): r["met"] for r in card["rows"]}


def test_each_personas_values_are_counted_from_the_record():
    card = run()
    ring, bots, home = (card["personas"][p] for p in ("ring", "scalper", "household"))
    assert (ring["accounts"], ring["flagged"], ring["units"]) == (10, 8, 4)
    assert ring["admitted"] == 10 and card["personas"]["fan"]["admitted"] == 0
    shown = {row["persona"]: row for row in scorecard.measured_rows(card)}
    assert shown["ring"]["unit share"] == "4.0%" and shown["household"]["FPR"] == "25.0%"
    assert shown["overall"]["admitted"] == 30 and shown["overall"]["flagged"] == 29
    assert ring["unit_share"] == 0.04 and ring["recall"] == 0.8
    assert ring["precision"] == round(8 / 9, 4) and ring["genuine_in_its_cases"] == 1
    assert bots["recall"] == 1.0 and bots["precision"] == 1.0 and bots["unit_share"] == 0.0
    assert home["fpr"] == 0.25
    assert card["personas"]["fan"]["fpr"] == 0.0
    overall = card["overall"]
    assert overall["recall"] == round(28 / 30, 4)
    assert overall["precision"] == round(28 / 29, 4)
    assert overall["genuine_fpr"] == round(1 / 204, 4)
    assert overall["unit_share"] == 0.04


def test_a_missed_target_shows_missed_per_persona_and_overall():
    card = run()
    v = verdicts(card)
    assert v[("ring", "recall")] is False and v[("ring", "scalper share of units")] is False
    assert v[("ring", "precision")] is False
    assert v[("household", "false-positive rate (trap)")] is False
    assert v[("scalper", "recall")] is True and v[("scalper", "precision")] is True
    assert v[("fan", "false-positive rate (genuine)")] is True
    assert v[("overall", "recall")] is False
    assert v[("overall", "genuine false-positive rate (every trap counted)")] is True
    assert "ring: recall" in card["missed"] and "household: false-positive rate (trap)" in \
        card["missed"]
    page = charts.scorecard_section(card)
    assert "MISSED" in page and "ring: recall" in page
    assert any("MISSED" in line for line in scorecard.summary_lines(card))


def test_an_admitted_scalper_nobody_decided_on_makes_the_decision_time_missed():
    card = run()
    ring_row = next(r for r in card["rows"] if r["persona"] == "ring"
                    and r["target"].startswith("admission to decision"))
    # 8 decided 1 s after admission, 2 admitted and never decided: p50 1 s, p99 never
    assert card["personas"]["ring"]["decision_p50_s"] == 1.0
    assert card["personas"]["ring"]["decision_p99_s"] == "never"
    assert ring_row["value"] == "1.0 / never s" and ring_row["met"] is False
    bots_row = next(r for r in card["rows"] if r["persona"] == "scalper"
                    and r["target"].startswith("admission to decision"))
    assert bots_row["met"] is True and card["personas"]["scalper"]["decision_p99_s"] == 0.5
    assert card["personas"]["ring"]["cancel_p50_s"] == 3.0      # admission to cancellation


def test_when_everything_is_caught_in_time_every_target_is_met():
    persona_of = {u: "fan" for u in range(1, 201)} | {u: "ring" for u in range(401, 411)}
    card = score(persona_of=persona_of, units={u: 1 for u in range(1, 101)},
                 flagged=set(range(401, 411)), cases=[set(range(401, 411))],
                 admitted_at={u: 10.0 for u in range(401, 411)},
                 decided_at={u: 12.0 for u in range(401, 411)})
    assert card["missed"] == [] and all(r["met"] for r in card["rows"])
    assert "every target met" in charts.scorecard_section(card)


def test_nothing_to_measure_is_not_a_met_target():
    card = score(persona_of={1: "ring", 2: "fan"}, units={}, flagged=set(), cases=[],
                 admitted_at={}, decided_at={})
    v = verdicts(card)
    assert v[("ring", "scalper share of units")] is False      # no unit sold: no share
    assert v[("ring", "precision")] is False                   # nothing flagged
    assert v[("ring", "admission to decision, p50 / p99")] is False   # never admitted
    assert "ring: recall" in card["missed"]                            # 0 of 1: measured
    assert "ring: precision (not measured)" in card["missed"]
    page = charts.scorecard_section(card)
    assert '<td class="bad">MISSED (not measured)</td>' in page
    assert '<td class="bad">MISSED</td>' in page


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([1.0, 2.0, 3.0, 4.0], 50, 2.0), ([1.0] * 99 + [NEVER], 99, 1.0),
    ([1.0] * 98 + [NEVER, NEVER], 99, NEVER), ([], 50, None)])
def test_percentiles_are_nearest_rank(values, q, expected):
    assert percentile(values, q) == expected
