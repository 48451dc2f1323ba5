"""The replay's summary for the terminal, in English (engineers read it beside the logs):
the headline, the units and tickets, the buckets, timing, load, detection, the ops desk,
capacity and the targets, as the record (report.json) has them."""

from __future__ import annotations

from collections import defaultdict

from django.utils import translation

from loadtests.double11 import scorecard
from loadtests.double11.headline import headline
from loadtests.double11.lines import (
    bucket_lines,
    capacity_lines,
    pct,
    reach_line,
    scale_caveat,
    scale_line,
)
from loadtests.double11.readable import readable_target


def summary(r: dict) -> str:
    """The terminal's summary, in English (engineers read it beside the logs)."""
    with translation.override("en"):
        return _summary(r)


def _summary(r: dict) -> str:
    inv, orders, timing, det = r["invariants"], r["orders"], r["timing"], r["detection"]
    head = r.get("headline") or headline(r)
    lines = [
        head["verdict"],
        *(f"   {line}" for line in head["lines"]),
        "",
        f"Double-11 replay: sale {r['run']['sale_id']}, {r['run']['scale_shoppers']} shoppers "
        f"{r['run']['personas']}, {inv['stock']} units",
        scale_caveat(r["run"]),
        f"  units sold {inv['units_sold']} of {inv['stock']}   oversell {inv['oversell']}   "
        f"per-user limit violations {inv['limit_violations']}",
        f"  tickets admitted {inv['tickets_admitted']}  confirmed {inv['tickets_confirmed']}  "
        f"rejected {inv['tickets_rejected']} {inv['rejected_by_reason'] or ''}  "
        f"unresolved {inv['tickets_unresolved']}",
        *(bucket_lines(r["buckets"]) if "buckets" in r else []),
        f"  orders paid {orders['paid']}  expired {orders['expired']}  awaiting payment "
        f"{orders['awaiting_payment_at_end']}  units returned {orders['units_returned']}  "
        f"re-sold {orders['units_resold']}",
        f"  open stock sold out at T+{timing['sell_out_s']} s (1-s samples)   "
        f"rush tickets settled by T+"
        f"{timing['rush_tickets_settled_by_s']} s   ticket settle p50 "
        f"{timing['ticket_settle_p50_s']} s max {timing['ticket_settle_max_s']} s",
        f"  attempts {r['attempts']['total']} {r['attempts']['by_verdict']}",
        scale_line(r["run"]),
        reach_line(r["load"]),
        "  endpoint                                   reqs   fail    rps   p50   p95   p99 (ms)",
    ]
    for e in r["load"]["endpoints"]:
        lines.append(f"  {e['method']:4} {e['name'][:36]:36} {e['requests']:6} {e['failures']:6} "
                     f"{e['rps']:6} {e['p50_ms']:5.0f} {e['p95_ms']:5.0f} {e['p99_ms']:5.0f}")
    errors = defaultdict(int)
    for _, status, code, n in r["load"]["client_errors"]:
        errors[f"{status} {code}"] += n
    lines.append("  answers other than 2xx: " + (", ".join(
        f"{k}: {v}" for k, v in sorted(errors.items(), key=lambda kv: -kv[1])) or "none"))
    lines.append(f"  units by persona {r['units']['by_persona']}   scalper share "
                 f"{pct(r['units']['scalper_share'])}")
    lines.append(f"  anti-scalper ({det['counted']}): flagged {det['flagged']}  precision "
                 f"{pct(det['precision'])}  recall {pct(det['recall'])}  genuine FPR "
                 f"{pct(det['genuine_fpr'])}  campus FPR {pct(det['campus_fpr'])}")
    lines.append("  flagged by persona: " + ", ".join(
        f"{p} {v['flagged']}/{v['accounts']}" for p, v in det["by_persona"].items()))
    if r.get("scorecard"):
        lines += scorecard.summary_lines(r["scorecard"])
    if desk := r.get("ops_desk"):
        lines.append(f"Ops desk (modelled, loadtests/double11/ops_desk.py): {desk['rule']}"
                     + ("" if "confirmed_cases" not in desk else
                        f"; confirmed {desk['confirmed_cases']} cases "
                        f"({desk['confirmed_accounts']} accounts), cleared "
                        f"{desk['cleared_cases']} ({desk['cleared_accounts']}), each "
                        f"{desk['read_s']} s after it opened"))
    lines += capacity_lines(r["capacity"])
    lines.append("Targets:")
    for t in r["targets"]:
        verdict = "met" if t["met"] else "MISSED"
        lines.append(f"  {verdict:6} {t['target']}: {readable_target(t['value'], t['goal'])} "
                     f"(goal {t['goal']})")
    if r.get("chaos"):
        from loadtests.double11.verdict import summary_lines

        lines += summary_lines(r["chaos"])
    return "\n".join(lines)
