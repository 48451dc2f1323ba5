"""The replay's targets, each met or missed from the record: the invariants (no oversell,
nobody over the limit, every check on the record met, tickets settled within a minute of T0),
the load (arrivals at the peak against the plan) and the anti-scalper goals of issue 16,
overall here and per persona in the scorecard. Names and goals in words are marked for the
catalogue: the pages say them in the reader's language, the record in English."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from loadtests.double11 import scorecard

# The anti-scalper goals are issue 16's (scorecard.GOALS), overall here and per persona there.
TARGETS = {"oversell": 0, "limit_violations": 0, "resolved_within_s": 60.0,
           "scalper_share_max": scorecard.GOALS["scalper_share_max"],
           "genuine_fpr_max": scorecard.GOALS["genuine_fpr_max"],
           "precision_min": scorecard.GOALS["precision_min"],
           "recall_min": scorecard.GOALS["recall_min"], "peak_reach_min": 0.80}



def targets(r: dict) -> list[dict]:
    inv, timing, det = r["invariants"], r["timing"], r["detection"]
    settled_by = timing["rush_tickets_settled_by_s"]
    resolved = (inv["tickets_unresolved"] == 0 and timing["rush_tickets_unsettled"] == 0
                and settled_by is not None and settled_by <= TARGETS["resolved_within_s"])

    def row(name, value, goal, met) -> dict:
        return {"target": name, "value": value, "goal": goal,
                "met": bool(met) if value is not None else False}

    share, fpr = r["units"]["scalper_share"], det["genuine_fpr"]
    card = r.get("scorecard") or {"rows": [], "missed": ["no scorecard"]}
    card_met = sum(1 for t in card["rows"] if t["met"])
    reach = r["load"]["peak_reach"]["ratio"]
    checks = r["checks"]
    checks_met = sum(1 for c in checks["rows"] if c["met"])
    return [
        # (names and goals in words are marked for the catalogue: the pages say them in
        # the reader's language, the record in English)
        row(gettext_noop("arrivals at the peak, achieved / planned"), reach, ">= 80 %",
            reach is not None and reach >= TARGETS["peak_reach_min"]),
        row(gettext_noop("oversell"), inv["oversell"], "0", inv["oversell"] == 0),
        row(gettext_noop("per-user limit violations"), inv["limit_violations"], "0",
            inv["limit_violations"] == 0),
        row(gettext_noop("invariant checks on the record (sales/invariants.py)"),
            f"{checks_met} of {len(checks['rows'])} met", gettext_noop("all"),
            checks["rows"] and not checks["broken"]),
        row(gettext_noop("admitted tickets resolved within 60 s of T0"), settled_by,
            gettext_noop("<= 60 s, none left"),
            resolved),
        row(gettext_noop("scalper share of units"), share, f"<= {TARGETS['scalper_share_max']:.0%}",
            share is not None and share <= TARGETS["scalper_share_max"]),
        row(gettext_noop("genuine-fan false-positive rate (every trap counted)"), fpr,
            f"<= {TARGETS['genuine_fpr_max']:.1%}",
            fpr is not None and fpr <= TARGETS["genuine_fpr_max"]),
        row(gettext_noop("flagged-account precision"), det["precision"],
            f">= {TARGETS['precision_min']}",
            det["precision"] is not None and det["precision"] >= TARGETS["precision_min"]),
        row(gettext_noop("flagged-account recall"), det["recall"],
            f">= {TARGETS['recall_min']}",
            det["recall"] is not None and det["recall"] >= TARGETS["recall_min"]),
        row(gettext_noop("every persona's targets (issue 16, table below)"),
            f"{card_met} of {len(card['rows'])} met", gettext_noop("all"),
            card is not None and not card["missed"]),
    ]
