"""The replay's Locust processes: the master (headless, or with its UI) and its workers,
each logging to the run's directory, and their stop (SIGTERM first: Locust writes its CSV and
HTML on the way out).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from loadtests.double11 import plan as model
from loadtests.double11.prepare import Options
from loadtests.stack import group_stop, stop_signals_deferred

# Locust's own HTML report, in the run's directory: the master writes it on its way out, and
# the replay's report links it by this name (relative: the run's directory moves as a whole).
REPORT = "locust.html"
COMMON = [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py"]


def master_command(options: Options, base: str, out_dir: Path) -> list[str]:
    """The master's command line: headless (or with its UI), its CSV and its HTML report
    into the run's directory."""
    main = [*COMMON, "--host", base, "--csv", str(out_dir / "locust"),
            "--html", str(out_dir / REPORT), "--exit-code-on-error", "0",
            "--stop-timeout", "5"]
    if options.web:
        # The replay keeps the plan's clock, not a button's: the UI shows the run live, it
        # starts by itself, and Locust quits when the curve ends so that the report follows.
        main += ["--web-host", "127.0.0.1", "--web-port", str(options.web_port), "--autostart",
                 "--autoquit", "5"]
    else:
        main += ["--headless"]
    if options.locust_workers:
        main += ["--master", "--expect-workers", str(options.locust_workers),
                 "--master-bind-port", str(options.port + 1557)]
    return main


def locust_start(plan: model.Plan, options: Options, base: str, out_dir: Path,
                 log: Callable[[str], None]) -> list[subprocess.Popen]:
    env = {**os.environ, "D11_PLAN": str(out_dir / "plan.json"),
           "D11_REDIS_URL": settings.REDIS_URL,      # the SMS outbox (shop.sms.RedisBackend)
           "D11_LOCUST_WORKERS": str(max(options.locust_workers, 1)),
           "PYTHONPATH": str(settings.BASE_DIR)}
    if options.web:
        log(f"Locust UI: http://127.0.0.1:{options.web_port} (live charts; the run starts by "
            f"itself, the sale opens at T0, {plan.t0 - time.time():.0f} s from now)")
    processes = []
    logs = out_dir / "logs"

    def spawn(name: str, argv: list[str]) -> None:
        handle = open(logs / f"{name}.log", "ab")
        processes.append(subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                          cwd=settings.BASE_DIR, start_new_session=True))

    spawn("locust", master_command(options, base, out_dir))
    for n in range(options.locust_workers):
        spawn(f"locust-worker-{n}", [*COMMON, "--worker", "--master-host", "127.0.0.1",
                                     "--master-port", str(options.port + 1557)])
    return processes


def processes_stop(processes: list[subprocess.Popen], timeout: float = 20) -> None:
    """SIGTERM (Locust writes its CSV and HTML on the way out), then SIGKILL."""
    with stop_signals_deferred():
        group_stop(processes, timeout=timeout)
