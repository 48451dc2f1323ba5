"""Issue 16's targets, per persona and overall: the scalper share of units, recall,
precision, the genuine false-positive rate (every trap counted) and the time from an
admission to the decision on it (and to the order's cancellation).

Why per persona: an overall recall of 0.9 can hide a ring caught not at all behind a bot
fleet caught whole, and an overall false-positive rate can hide a household flagged
entirely behind hundreds of fans nobody flagged. Each persona is held to the targets that
apply to it (a scalper persona to share, recall, precision and decision time; a genuine one
to the false-positive rate), and every value is measured from the record of the run: a
target with nothing to measure is not met, never assumed.

`score` is a plain function of what the run left (built by `report.build` from the database
and the labels), so that it can be checked on constructed data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from django.utils.translation import gettext_noop

from loadtests.double11.plan import GENUINE_PERSONAS, PERSONAS, SCALPER_PERSONAS, TRAP_PERSONAS

GOALS = {"scalper_share_max": 0.01, "recall_min": 0.95, "precision_min": 0.98,
         "genuine_fpr_max": 0.005, "decision_p99_max_s": 5.0}
NEVER = math.inf    # an admitted scalper account nobody decided on: its wait has no end


def percentile(values: Iterable[float], q: float) -> float | None:
    """The nearest-rank percentile (no interpolation: p99 of 20 values is the largest), so
    one undecided account (NEVER) shows as NEVER at p99 instead of being averaged away."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def waits(accounts: Iterable[int], admitted_at: dict[int, float],
          decided_at: dict[int, float]) -> list[float]:
    """Seconds from each admitted account's first admission to the first decision that
    flagged it (0 when it was flagged before it was admitted; NEVER when it never was)."""
    result = []
    for user in accounts:
        if user not in admitted_at:
            continue
        decided = decided_at.get(user)
        result.append(NEVER if decided is None else max(0.0, decided - admitted_at[user]))
    return result


def _seconds(value: float | None) -> float | str | None:
    if value is None:
        return None
    return "never" if value == NEVER else round(value, 2)


def _row(persona: str, target: str, goal: str, value, met: bool | None) -> dict:
    """One line of the table: a value of None (nothing to measure) is not met."""
    return {"persona": persona, "target": target, "goal": goal, "value": value,
            "met": bool(met) and value is not None}


def score(*, persona_of: dict[int, str], units: dict[int, int], flagged: set[int],
          cases: list[set[int]], admitted_at: dict[int, float], decided_at: dict[int, float],
          cancelled_at: dict[int, float] | None = None) -> dict:
    """Per persona and overall: the measured values and a row per target with met or not.

    `persona_of` is every labelled account; `units` what each holds at the end (every sale
    of the run); `flagged` the accounts flagged (review or block); `cases` the members of
    each ring case (a genuine account flagged in a case with a persona's flagged members
    counts against that persona's precision); `admitted_at`, `decided_at`, `cancelled_at`
    the first admission, flagging decision and risk cancellation of each account (Unix s).
    """
    cancelled_at = cancelled_at or {}
    total_units = sum(units.values())
    members: dict[str, list[int]] = {p: [] for p in PERSONAS}
    for user, persona in persona_of.items():
        members.setdefault(persona, []).append(user)
    genuine = {u for u, p in persona_of.items() if p in GENUINE_PERSONAS}
    rows: list[dict] = []
    personas: dict[str, dict] = {}
    for persona, users in members.items():
        if not users:
            continue
        hit = [u for u in users if u in flagged]
        held = sum(units.get(u, 0) for u in users)
        measured = {"accounts": len(users), "flagged": len(hit), "units": held,
                    "admitted": sum(1 for u in users if u in admitted_at)}
        if persona in SCALPER_PERSONAS:
            near = {g for case in cases if case & set(hit) for g in case
                    if g in genuine and g in flagged}
            wait = waits(users, admitted_at, decided_at)
            cancel = waits([u for u in users if units.get(u, 0) or u in cancelled_at],
                           admitted_at, cancelled_at)
            measured.update(
                unit_share=_ratio(held, total_units), recall=_ratio(len(hit), len(users)),
                precision=_ratio(len(hit), len(hit) + len(near)), genuine_in_its_cases=len(near),
                decision_p50_s=_seconds(percentile(wait, 50)),
                decision_p99_s=_seconds(percentile(wait, 99)),
                cancel_p50_s=_seconds(percentile(cancel, 50)),
                cancel_p99_s=_seconds(percentile(cancel, 99)))
            rows += _scalper_rows(persona, measured, wait)
        else:
            measured["fpr"] = _ratio(len(hit), len(users))
            fp_wait = [w for w in waits(hit, admitted_at, decided_at) if w != NEVER]
            measured["decision_p50_s"] = _seconds(percentile(fp_wait, 50))
            measured["decision_p99_s"] = _seconds(percentile(fp_wait, 99))
            # (the targets' names are marked for the catalogue: the pages translate them)
            name = (gettext_noop("false-positive rate (trap)") if persona in TRAP_PERSONAS
                    else gettext_noop("false-positive rate (genuine)"))
            rows.append(_row(persona, name,
                             f"<= {GOALS['genuine_fpr_max']:.1%}", measured["fpr"],
                             measured["fpr"] is not None
                             and measured["fpr"] <= GOALS["genuine_fpr_max"]))
        personas[persona] = measured
    overall = _overall(persona_of, units, flagged, admitted_at, decided_at, total_units)
    rows += _scalper_rows("overall", overall, overall.pop("_wait"))
    rows.append(_row("overall", gettext_noop("genuine false-positive rate (every trap counted)"),
                     f"<= {GOALS['genuine_fpr_max']:.1%}", overall["genuine_fpr"],
                     overall["genuine_fpr"] is not None
                     and overall["genuine_fpr"] <= GOALS["genuine_fpr_max"]))
    return {"goals": GOALS, "personas": personas, "overall": overall, "rows": rows,
            "missed": [f"{r['persona']}: {r['target']}"
                       + (" (not measured)" if r["value"] is None else "")
                       for r in rows if not r["met"]]}


def verdict(row: dict) -> str:
    """met, MISSED, or MISSED (not measured): nothing to measure (no unit sold, nobody
    flagged or admitted) is not a met target, and says why."""
    if row["met"]:
        return "met"
    return "MISSED (not measured)" if row["value"] is None else "MISSED"


def _scalper_rows(persona: str, m: dict, wait: list[float]) -> list[dict]:
    p99 = percentile(wait, 99)
    return [
        _row(persona, gettext_noop("scalper share of units"),
             f"<= {GOALS['scalper_share_max']:.0%}",
             m["unit_share"], m["unit_share"] is not None
             and m["unit_share"] <= GOALS["scalper_share_max"]),
        _row(persona, gettext_noop("recall"), f">= {GOALS['recall_min']}", m["recall"],
             m["recall"] is not None and m["recall"] >= GOALS["recall_min"]),
        _row(persona, gettext_noop("precision"), f">= {GOALS['precision_min']}", m["precision"],
             m["precision"] is not None and m["precision"] >= GOALS["precision_min"]),
        _row(persona, gettext_noop("admission to decision, p50 / p99"),
             f"p99 <= {GOALS['decision_p99_max_s']:g} s",
             None if p99 is None else f"{m['decision_p50_s']} / {m['decision_p99_s']} s",
             p99 is not None and p99 <= GOALS["decision_p99_max_s"]),
    ]


def _overall(persona_of: dict[int, str], units: dict[int, int], flagged: set[int],
             admitted_at: dict[int, float], decided_at: dict[int, float],
             total_units: int) -> dict:
    scalpers = [u for u, p in persona_of.items() if p in SCALPER_PERSONAS]
    genuine = [u for u, p in persona_of.items() if p in GENUINE_PERSONAS]
    caught = sum(1 for u in scalpers if u in flagged)
    wrong = sum(1 for u in genuine if u in flagged)
    wait = waits(scalpers, admitted_at, decided_at)
    return {"accounts": len(persona_of), "units": total_units,
            "admitted": sum(1 for u in persona_of if u in admitted_at),
            "unit_share": _ratio(sum(units.get(u, 0) for u in scalpers), total_units),
            "recall": _ratio(caught, len(scalpers)),
            "precision": _ratio(caught, caught + wrong),
            "genuine_fpr": _ratio(wrong, len(genuine)),
            "genuine_flagged": wrong, "scalpers_flagged": caught,
            "decision_p50_s": _seconds(percentile(wait, 50)),
            "decision_p99_s": _seconds(percentile(wait, 99)), "_wait": wait}


def _cell(value, *, share: bool = False) -> str:
    if value is None:
        return "-"
    if share and isinstance(value, float):
        return f"{value * 100:.1f}%"
    return str(value)


def measured_rows(card: dict) -> list[dict]:
    """The per-persona numbers as table rows (the HTML page and the terminal show them)."""
    rows = []
    for persona, m in [*card["personas"].items(), ("overall", card["overall"])]:
        rows.append({
            "persona": persona, "accounts": m["accounts"], "admitted": m["admitted"],
            "flagged": m.get("flagged", m.get("scalpers_flagged", 0)
                             + m.get("genuine_flagged", 0)),
            "units": m["units"], "unit share": _cell(m.get("unit_share"), share=True),
            "recall": _cell(m.get("recall")), "precision": _cell(m.get("precision")),
            "FPR": _cell(m.get("fpr", m.get("genuine_fpr")), share=True),
            "decision p50/p99 s": f"{_cell(m.get('decision_p50_s'))} / "
                                  f"{_cell(m.get('decision_p99_s'))}",
            "cancel p50/p99 s": f"{_cell(m.get('cancel_p50_s'))} / "
                                f"{_cell(m.get('cancel_p99_s'))}"})
    return rows


def summary_lines(card: dict) -> list[str]:
    """The terminal's per-persona table and the targets it missed, said plainly."""
    rows = measured_rows(card)
    heads = list(rows[0])
    widths = [max(len(h), *(len(str(r[h])) for r in rows)) for h in heads]
    lines = ["Per persona (issue 16 targets; units over every sale of the run):",
             "  " + "  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))]
    lines += ["  " + "  ".join(str(r[h]).ljust(w) for h, w in zip(heads, widths, strict=True))
              for r in rows]
    met = sum(1 for r in card["rows"] if r["met"])
    lines.append(f"  targets met {met} of {len(card['rows'])}"
                 + ("" if not card["missed"] else "; MISSED: " + "; ".join(card["missed"])))
    return lines
