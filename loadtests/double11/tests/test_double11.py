"""The Double-11 replay end to end at a tiny scale: real gunicorn, Celery, beat and Locust
against this test's database and Redis, then the report's invariants."""

from __future__ import annotations

import re
import urllib.request

import pytest
from django.conf import settings

from loadtests.double11.run import Options, replay
from loadtests.faults import database_url, free_port


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_tiny_double11_replay_sells_out_without_overselling_and_settles_every_ticket(
        tmp_path):
    options = Options(scale=0.0002, time_scale=0.01, min_phase_s=3, lead_s=5, seed=7,
                      port=free_port(), web_workers=2, live_login_share=0.0, out_dir=tmp_path)
    report = replay(options, say=lambda line: None,
                    extra_env={"DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL})

    inv = report["invariants"]
    assert inv["tickets_admitted"] > 0, report["attempts"]
    assert inv["oversell"] == 0 and inv["units_sold"] <= inv["stock"]
    assert inv["limit_violations"] == 0
    assert inv["tickets_unresolved"] == 0
    assert inv["tickets_confirmed"] + inv["tickets_rejected"] == inv["tickets_admitted"]
    assert set(report["run"]["personas"]) >= {"fan", "fcode", "browser", "scalper"}
    run_dir = tmp_path.joinpath(*[p for p in report["run_dir"].split("/") if p][-1:])
    for name in ("report.json", "report.html", "locust.html", "locust_stats.csv",
                 "timeline.png"):
        assert (run_dir / name).exists(), name
    # the page links Locust's own report where the master wrote it, and the record held
    page = (run_dir / "report.html").read_text()
    link = re.search(r"Locust's own report: <a href=\"([^\"]+)\">", page)
    assert link and (run_dir / link.group(1)).is_file()
    assert report["checks"]["broken"] == [] and report["headline"]["held"] is True


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_with_locusts_web_ui_the_replay_still_starts_and_ends_by_itself(tmp_path):
    """--web: the UI answers while the run goes on, and nobody has to press Start or Stop."""
    ui_port, ui_answers = free_port(), []

    def say(line: str) -> None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/", timeout=2) as reply:
                ui_answers.append(reply.status)
        except OSError:
            pass

    options = Options(scale=0.0002, time_scale=0.01, min_phase_s=3, lead_s=5, seed=8,
                      port=free_port(), web_workers=2, live_login_share=0.0, out_dir=tmp_path,
                      web=True, web_port=ui_port)
    report = replay(options, say=say,
                    extra_env={"DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL})

    assert 200 in ui_answers
    inv = report["invariants"]
    assert inv["tickets_admitted"] > 0 and inv["oversell"] == 0
    assert inv["tickets_unresolved"] == 0
