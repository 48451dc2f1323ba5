"""`double11 --chaos`: the fault schedule, the invariants table, and a real run with faults."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from loadtests.double11 import chaos, report, terminal
from loadtests.double11.plan import Plan, payment_window_s, timeline
from loadtests.double11.run import Options, prepare, replay
from loadtests.double11.verdict import summary_lines
from loadtests.faults import database_url, free_port
from sales.models import FlashSale


def a_plan(*, time_scale: float = 0.02, min_phase_s: float = 2.0) -> Plan:
    return Plan(sale_id=1, t0=1_000_000.0, ends_at=1_000_100.0, time_scale=time_scale,
                min_phase_s=min_phase_s,
                payment_window_s=payment_window_s(time_scale=time_scale, min_phase_s=min_phase_s),
                per_user_limit=2, password="x", accounts=[], out_dir="/tmp", seed=0,
                phases=timeline(time_scale=time_scale, min_phase_s=min_phase_s))


@pytest.mark.parametrize("time_scale,min_phase_s", [(0.02, 2.0), (0.05, 5.0), (0.01, 3.0)])
def test_the_fault_schedule_is_the_same_for_a_seed_and_lies_within_the_rushes(
        time_scale, min_phase_s):
    plan = a_plan(time_scale=time_scale, min_phase_s=min_phase_s)
    first = chaos.schedule(plan, seed=42)
    again = chaos.schedule(plan, seed=42)
    other = chaos.schedule(plan, seed=43)

    assert [f.as_dict() for f in first] == [f.as_dict() for f in again]
    assert [f.at_s for f in first] != [f.at_s for f in other]
    windows = chaos.windows(plan)
    rush = (plan.at("spike") - plan.t0, plan.end_of("decay") - plan.t0)
    payment = (plan.at("payment") - plan.t0, plan.end_of("payment") - plan.t0)
    assert windows["rush"] == rush
    for fault in first:
        start, end = windows[fault.window]
        assert start <= fault.at_s <= end, fault
        assert (rush if fault.window == "rush" else payment)[0] <= fault.at_s
    times = [f.at_s for f in first]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert {f.kind for f in first} == {"snapshot", *chaos.KINDS}
    restart = next(f for f in first if f.kind == "restart")
    snapshot = next(f for f in first if f.kind == "snapshot")
    assert restart.since_s == snapshot.at_s < restart.at_s


def test_only_the_faults_asked_for_are_scheduled_and_a_restart_brings_its_snapshot():
    kinds = [f.kind for f in chaos.schedule(a_plan(), seed=1, kinds=("restart", "flushall"))]
    assert kinds == ["snapshot", "restart", "flushall"]


def a_verdict(*, broken: bool) -> dict:
    return {
        "seed": 5, "database": "sqlite",
        "faults": [{"kind": "flushall", "at_s": 4.0, "window": "second rush",
                    "label": "FLUSHALL", "since_s": None, "until_s": None, "done_s": 4.1,
                    "ok": True, "details": {"keys_flushed": 12}},
                   {"kind": "pause", "at_s": 6.0, "window": "second rush",
                    "label": "CLIENT PAUSE 2000", "since_s": None, "until_s": 8.0,
                    "done_s": 6.0, "ok": True, "details": {"ms": 2000}}],
        "invariants": [
            {"invariant": "holding_within_stock", "value": "16 held of 16", "met": True,
             "detail": ""},
            {"invariant": "tickets_end_once", "value": "3 tickets: 1 missing",
             "met": not broken, "detail": "missing t-1" if broken else ""}],
        "broken": ["tickets_end_once"] if broken else [],
        "counts": {"acknowledged_tickets": 3, "admitted_by_stale_gate": 0,
                   "rejected_gate_rebuilt": 0, "rejected_gate_lost": 1, "unavailable_503": 4,
                   "gate_epoch": 2, "gate_rebuilt_at": None},
        "settle": {"settled": True, "waited_s": 0.0, "gate_back": True, "queued": 0,
                   "tickets_open": 0},
        "errors_per_s": {"503 unavailable": [[3, 0], [4, 4], [5, 0]]},
    }


@pytest.mark.django_db
def test_the_invariants_table_shows_met_and_broken_rows_in_the_html_the_json_and_the_summary(
        tmp_path):
    plan = prepare(Options(scale=0.00005, time_scale=0.02, min_phase_s=2, seed=3), tmp_path)
    result = report.build(plan, [], tmp_path, chaos=a_verdict(broken=True))

    page = (tmp_path / "report.html").read_text()
    assert "Chaos: invariants (seed 5" in page and "Fault timeline" in page
    assert "holding_within_stock" in page and '<td class="bad">BROKEN</td>' in page
    assert "<td>met</td>" in page and "FLUSHALL" in page and "CLIENT PAUSE 2000" in page
    assert '<img src="timeline.png"' in page        # the faults on every panel: test_figures
    assert (tmp_path / "timeline.png").exists()
    assert "The store did NOT hold through 2 injected faults" in page
    saved = json.loads((tmp_path / "report.json").read_text())
    assert [(i["invariant"], i["met"]) for i in saved["chaos"]["invariants"]] == [
        ("holding_within_stock", True), ("tickets_end_once", False)]
    text = terminal.summary(result)
    assert "BROKEN: tickets_end_once" in text and "BROKEN tickets_end_once" in text
    assert "BROKEN" not in "\n".join(summary_lines(a_verdict(broken=False)))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_tiny_chaos_replay_keeps_every_invariant_through_a_snapshot_restart_and_a_flushall(
        tmp_path):
    options = Options(scale=0.0002, time_scale=0.02, min_phase_s=2, lead_s=5, seed=11,
                      port=free_port(), web_workers=2, live_login_share=0.0, out_dir=tmp_path,
                      chaos=True, faults=("restart", "flushall", "pause", "worker_kill"))
    lines: list[str] = []
    own_redis = settings.REDIS_URL
    result = replay(options, say=lines.append, extra_env={"DATABASE_URL": database_url()})

    verdict = result["chaos"]
    assert verdict["broken"] == [], "\n".join(summary_lines(verdict))
    assert all(row["met"] for row in verdict["invariants"])
    done = {f["kind"]: f for f in verdict["faults"]}
    assert all(f["ok"] for f in done.values()), done
    restart = done["restart"]["details"]
    assert restart["run_id_before"] != restart["run_id_after"]
    assert done["flushall"]["details"]["keys_flushed"] > 0
    assert done["worker_kill"]["details"]["replacement_pid"]
    assert FlashSale.objects.get(pk=result["run"]["sale_id"]).gate_rebuilt_at is not None
    # A restart from a snapshot keeps the epoch (its queue's tickets are real admissions); the
    # FLUSHALL, which lost the gate's keys, starts a new one.
    assert verdict["counts"]["gate_epoch"] >= 1
    assert verdict["counts"]["acknowledged_tickets"] > 0
    assert any("chaos (seed 11)" in line for line in lines)
    assert settings.REDIS_URL == own_redis      # this process is back on its own Redis
