"""The report's arrivals at the peak come from what the shoppers recorded sending."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest

from loadtests.double11 import lines, locusts, report, terminal
from loadtests.double11.headline import headline
from loadtests.double11.plan import Plan, timeline
from loadtests.double11.run import Options, prepare
from sales import selectors, services
from sales.gate.admission import Purchase


def arrivals_written(path, seconds: range, per_second: int, *, refused: int = 0) -> None:
    """A process's log: `per_second` answered (all but 3 of them refreshes) and `refused`
    more tried, in every second."""
    path.write_text(json.dumps({"labels": {}, "errors": [], "errors_at": [],
                                "tried": [[s, per_second + refused] for s in seconds],
                                "arrivals": [[s, kind, n] for s in seconds for kind, n in
                                             (("refresh", per_second - 3), ("purchase", 2),
                                              ("other", 1))],
                                "unsent": [[seconds[0], 7]]}))


@pytest.mark.django_db
def test_achieved_over_planned_at_the_peak_is_the_recorded_arrivals_against_the_plan(tmp_path):
    plan = prepare(Options(scale=0.00005, time_scale=0.02, min_phase_s=2, seed=3), tmp_path)
    spike = range(math.ceil(plan.t0), math.floor(plan.t0 + plan.peak.ends_s))
    planned = plan.planned_rps(spike[0] + 0.5)
    # two Locust processes, each sent a third of the plan in every second of the spike
    arrivals_written(tmp_path / "labels-0-1.json", spike, round(planned / 3))
    # the other process was refused a third of the plan besides: tried, never arrived
    arrivals_written(tmp_path / "labels-1-2.json", spike, round(planned / 3),
                     refused=round(planned / 3))

    result = report.build(plan, [], tmp_path)

    reach = result["load"]["peak_reach"]
    assert reach["phase"] == "spike" and reach["seconds"] == len(spike)
    assert reach["planned_rps"] == pytest.approx(planned, rel=0.01)
    assert reach["ratio"] == pytest.approx(2 / 3, abs=0.01)
    assert reach["unsent"] == 14
    assert reach["tried_rps"] == pytest.approx(planned, rel=0.01)
    row = next(t for t in result["targets"] if t["target"].startswith("arrivals at the peak"))
    assert row["met"] is False
    assert "66.6 %" in lines.reach_line(result["load"]) and "planned" in terminal.summary(result)
    # what arrived: nearly all refreshes of the live state; no purchase reached the gate here
    per = round(planned / 3)
    assert reach["refresh_share"] == pytest.approx((per - 3) / per, abs=1e-3)
    assert reach["by_kind_rps"] == {"refresh": 2 * (per - 3), "purchase": 4, "other": 2}
    assert reach["gate_attempts_rps"] == 0.0
    share = f"{(per - 3) / per * 100:.1f} %"
    for text in (terminal.summary(result), (tmp_path / "report.html").read_text()):
        assert f"refreshes of the live state (anonymous, the cheapest answer, cached) {share}" \
            in text
        assert "4/s answered, 0/s purchase attempts at the gate" in text
    assert json.loads((tmp_path / "report.json").read_text())["load"]["peak_reach"][
        "refresh_share"] == reach["refresh_share"]
    # the header says what this scale leaves of the scalper figures
    ops = result["run"]["operators"]
    assert ops["scalper"]["operators"] >= 1 and ops["stealth"]["operators"] >= 1
    # (every scalper persona's accounts; the rush's units and the deposit pre-sale's)
    scalpers = sum(fleet["accounts"] for fleet in ops.values())
    units = result["run"]["stock"] + result["run"]["deposit_stock"]
    assert result["run"]["deposit_stock"] >= 2 and ops["ring"]["accounts"] >= 4
    caveat = next(line for line in terminal.summary(result).splitlines()
                  if line.startswith("  at this scale"))
    assert caveat.startswith(f"  at this scale (0.00005): {len(plan.accounts)} shoppers, "
                             f"{units} units, "), caveat
    assert "ring operator (" in caveat and "deposit operator (" in caveat
    assert f"the scalper share is of {units} units (one unit is " in caveat
    assert f"recall of {scalpers} scalper accounts (one account is " in caveat
    assert "a handful, not rates" in (tmp_path / "report.html").read_text()


def locust_link(page: str) -> str | None:
    found = re.search(r"Locust's own report: <a href=\"([^\"]+)\">", page)
    return found.group(1) if found else None


@pytest.mark.django_db
def test_the_report_links_the_locust_report_its_master_was_asked_to_write(tmp_path):
    options = Options(scale=0.00005, time_scale=0.02, min_phase_s=2, seed=5)
    plan = prepare(options, tmp_path)
    asked = set()
    for variant in (options, replace(options, web=True), replace(options, locust_workers=2)):
        argv = locusts.master_command(variant, "http://127.0.0.1:9", tmp_path)
        asked.add(Path(argv[argv.index("--html") + 1]))
    assert len(asked) == 1
    written = asked.pop()
    assert written.parent == tmp_path

    report.build(plan, [], tmp_path)
    assert locust_link((tmp_path / "report.html").read_text()) is None   # not written yet
    assert "Locust's own report: not written" in (tmp_path / "report.html").read_text()

    written.write_text("<html>Locust's report</html>")    # as the master does on its way out
    result = report.build(plan, [], tmp_path)

    page = (tmp_path / "report.html").read_text()
    assert (tmp_path / locust_link(page)).resolve() == written.resolve()
    # the headline is at the top, the figure beside the page, and the JSON keeps both
    assert page.index('class="headline"') < page.index("<h2>")
    assert headline(result)["verdict"] in page
    assert terminal.summary(result).splitlines()[0] == headline(result)["verdict"]
    assert (tmp_path / result["charts"]).exists() and f'src="{result["charts"]}"' in page
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["headline"] == result["headline"]
    assert [c["invariant"] for c in saved["checks"]["rows"]] == [
        "holding_within_stock", "nobody_over_limit", "tickets_end_once", "units_conserved",
        "one_charge_per_order", "counters_agree"]


@pytest.mark.django_db
def test_with_no_recorded_arrivals_the_peak_is_not_reached_whatever_the_plan_says(tmp_path):
    plan = prepare(Options(scale=0.00005, time_scale=0.02, min_phase_s=2, seed=4), tmp_path)

    result = report.build(plan, [], tmp_path)

    assert result["load"]["peak_reach"]["ratio"] is None
    assert result["load"]["peak_reach"]["planned_rps"] > 0
    assert next(t for t in result["targets"]
                if t["target"].startswith("arrivals at the peak"))["met"] is False


def test_the_capacity_model_divides_each_tiers_measured_cpu_by_what_it_handled(tmp_path):
    plan = Plan(sale_id=1, t0=1_000_000.0, ends_at=1_000_300.0, time_scale=0.05,
                min_phase_s=5.0, payment_window_s=90.0, per_user_limit=2, password="x",
                accounts=[None] * 100, out_dir=str(tmp_path), baseline_rps=40.0,
                phases=timeline(time_scale=0.05, min_phase_s=5.0))
    wait, rush_end = plan.at("wait") - plan.t0, plan.end_of("decay") - plan.t0

    def point(t, web, redis, celery, locust):
        return {"t": t, "cpu": {"web": web, "redis": redis, "celery": celery, "locust": locust}}

    series = [point(wait, 1.0, 0.1, 0.5, 1.0), point(-1.0, 2.0, 0.2, 0.6, 2.0),
              point(rush_end + 1, 6.0, 0.4, 1.6, 3.0)]
    sent = {int(plan.t0) + s: 100 for s in range(-1, int(rush_end) + 1)}
    attempts = [{"at": (plan.t0 + 0.5 + n / 100) * 1000} for n in range(200)]

    c = report.run_capacity(plan, series, sent, attempts, rush_tickets=8,
                            rush_settled_s=rush_end + 1, stock=4)

    requests = c["handled"]["requests"]
    assert requests == 100 * (int(rush_end) + 2)
    assert c["costs_us"]["web_per_request"] == pytest.approx(4.0 / requests * 1e6, rel=1e-3)
    assert c["costs_us"]["locust_per_request"] == pytest.approx(1.0 / requests * 1e6, rel=1e-3)
    assert c["costs_us"]["redis_per_attempt"] == pytest.approx(0.2 / 200 * 1e6, rel=1e-3)
    idle = 0.1 / (-1.0 - wait)      # Celery's CPU a second while nobody buys
    busy = 1.0 - idle * (rush_end + 2)
    # Celery: both kinds of its work, charged to the rush's attempts
    assert c["costs_us"]["celery_per_attempt"] == pytest.approx(busy / 200 * 1e6, rel=1e-3)
    assert c["costs_us"]["celery_per_ticket"] == 0.0
    assert c["scale_1_load"]["tickets_per_s"] == pytest.approx(8 * 80_000 / 4 / 60, rel=1e-3)
    shoppers_1 = 1_108_192 / 100
    assert c["scale_1_load"]["rush_attempts_per_s"] == pytest.approx(200 * shoppers_1 / 60,
                                                                      rel=1e-3)
    assert set(c["need"]) == {"web_cores", "redis_shards", "celery_workers", "locust_workers"}


def test_the_capacity_section_states_its_precision_and_what_it_rests_on(tmp_path):
    from loadtests.double11 import charts

    plan = Plan(sale_id=1, t0=1_000_000.0, ends_at=1_000_300.0, time_scale=0.05,
                min_phase_s=5.0, payment_window_s=90.0, per_user_limit=2, password="x",
                accounts=[None] * 100, out_dir=str(tmp_path), baseline_rps=40.0,
                phases=timeline(time_scale=0.05, min_phase_s=5.0))
    rush_end = plan.end_of("decay") - plan.t0
    series = [{"t": t, "cpu": {"web": w, "redis": 0.1 * w, "celery": w / 4, "locust": w}}
              for t, w in ((plan.at("wait") - plan.t0, 1.0), (-1.0, 2.0), (rush_end + 1, 6.0))]
    sent = {int(plan.t0) + s: 100 for s in range(-1, int(rush_end) + 1)}
    attempts = [{"at": (plan.t0 + 0.5 + n / 100) * 1000} for n in range(200)]
    c = report.run_capacity(plan, series, sent, attempts, rush_tickets=8,
                            rush_settled_s=rush_end + 1, stock=4)
    c["assumptions"] = report.capacity_assumptions(plan, {"refresh_share": 0.95}, "sqlite")

    text = "\n".join(lines.capacity_lines(c))
    page = charts.capacity_section(c)

    for said in ("precision: counts and costs to 2 significant figures",
                 "95.0 % of the peak's answered arrivals were the crowd's anonymous refreshes",
                 "every core planned 70% busy", "charged to the gate's attempts",
                 "SQLite (one writer", "the spike compressed to 5 s (the real one lasts 30 s)"):
        assert said in text and said in page.replace("&#x27;", "'"), said
    assert c["shown_to"] == "2 significant figures"
    assert all(len(str(n).rstrip("0")) <= 2 for n in c["need_shown"].values())


@pytest.mark.django_db
def test_the_report_shows_the_gates_buckets(tmp_path, make_sale, buyer_ids):
    plan = prepare(Options(scale=0.00005, time_scale=0.02, min_phase_s=2, seed=3), tmp_path)
    result = report.build(plan, [], tmp_path)
    assert result["buckets"]["shards"] == 1
    assert "  buckets: one (the sale is not split across shards)" in terminal.summary(result)
    split = make_sale(stock=9, limit=1, shards=3)
    for user in buyer_ids(4):
        services.purchase_admit(purchase=Purchase(sale_id=split.pk, user_id=user))
    shown = lines.bucket_lines(selectors.sale_buckets(sale=split).as_dict())
    assert shown[0].startswith("  buckets: 3 (left + taken + in transit = the stock less 0;")
    taken = [int(re.search(r"(\d+) taken", line).group(1)) for line in shown[1:]]
    assert len(taken) == 3 and sum(taken) == 4
