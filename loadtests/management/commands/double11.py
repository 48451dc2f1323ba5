"""`manage.py double11`: replay a Double-11 sale (docs/double11.md) against the stack and report."""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from loadtests.double11 import chaos, terminal
from loadtests.double11.autoscale import ProbeFailed
from loadtests.double11.run import Options, replay


def fresh_sqlite(db_dir: Path) -> dict[str, str]:
    """With no DATABASE_URL (the embedded SQLite), each run gets a database of its own, so no
    account or blacklist entry of an earlier run leaks into this one; the report can be
    recomputed from it later."""
    if os.environ.get("DATABASE_URL"):
        return {}
    db_dir.mkdir(parents=True, exist_ok=True)
    path = db_dir / f"{time.strftime('%Y%m%d-%H%M%S')}.sqlite3"
    connections["default"].close()
    connections["default"].settings_dict["NAME"] = str(path)
    settings.DATABASES["default"]["NAME"] = str(path)
    return {"DATABASE_URL": f"sqlite:///{path}"}


def scale_arg(value: str) -> float | str:
    if value == "auto":
        return value
    try:
        scale = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is neither auto nor a number") from None
    if scale <= 0:
        raise argparse.ArgumentTypeError("the scale must be above 0")
    return scale


class Command(BaseCommand):
    help = "Replay a Double-11 flash sale with Locust personas and write the report."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--scale", type=scale_arg, default="auto",
                            help="1 = one Mi 6 launch (1,108,192 shoppers, 80,000 units); "
                                 "auto (default): measure the stack for a few seconds and take "
                                 "the largest scale whose planned peak is within 70 %% of it")
        parser.add_argument("--probe", type=float, default=8.0,
                            help="with --scale auto: seconds the stack is measured")
        parser.add_argument("--time-scale", type=float, default=0.05,
                            help="compressed seconds per real second of the day (0.05: 20x)")
        parser.add_argument("--min-phase", type=float, default=5.0,
                            help="no phase shorter than this many seconds")
        parser.add_argument("--seed", type=int, default=None, help="persona assignment seed")
        parser.add_argument("--bot-pause", type=float, default=0.2,
                            help="seconds between a scalper bot's retries (a laptop concession)")
        parser.add_argument("--live-logins", type=float, default=0.1,
                            help="share of shoppers who log in during the run (PBKDF2 costs)")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=3)
        parser.add_argument("--celery-workers", type=int, default=1)
        parser.add_argument("--locust-workers", type=int, default=0,
                            help="run Locust distributed with this many worker processes")
        parser.add_argument("--web", action="store_true",
                            help="Locust's web UI with live charts (the run still starts and "
                                 "ends by itself)")
        parser.add_argument("--web-port", type=int, default=8089, help="port of Locust's UI")
        parser.add_argument("--keep", action="store_true", help="leave the store up afterwards")
        parser.add_argument("--out", type=Path, default=Path(settings.VAR_DIR) / "double11")
        parser.add_argument("--no-ops-desk", action="store_true",
                            help="nobody on duty: ring cases stay open (the desk, "
                                 "loadtests/double11/ops_desk.py, answers them by a written "
                                 "rule through the ops API)")
        parser.add_argument("--chaos", action="store_true",
                            help="inject faults on a schedule seeded by --seed (a private Redis "
                                 "restarted from an old snapshot, flushed, paused; a worker "
                                 "SIGKILLed; PostgreSQL backends killed) and check the "
                                 "invariants; exits 1 if any is broken")
        parser.add_argument("--faults", default=",".join(chaos.KINDS),
                            help="with --chaos, which faults (comma-separated, of "
                                 f"{', '.join(chaos.KINDS)})")

    def handle(self, *args, **o) -> None:
        seed = o["seed"] if o["seed"] is not None else random.randrange(1_000_000)
        kinds = tuple(k.strip() for k in o["faults"].split(",") if k.strip())
        unknown = set(kinds) - set(chaos.KINDS)
        if unknown:
            raise CommandError(f"unknown faults {sorted(unknown)}; known: {chaos.KINDS}")
        extra_env = fresh_sqlite(o["out"] / "db")
        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)
        auto = o["scale"] == "auto"
        options = Options(scale=0.0 if auto else o["scale"], scale_auto=auto,
                          probe_s=o["probe"], time_scale=o["time_scale"],
                          min_phase_s=o["min_phase"], seed=seed, port=o["port"],
                          web_workers=o["web_workers"], celery_workers=o["celery_workers"],
                          locust_workers=o["locust_workers"], web=o["web"],
                          web_port=o["web_port"], keep=o["keep"],
                          out_dir=o["out"], bot_pause_s=o["bot_pause"],
                          live_login_share=o["live_logins"], chaos=o["chaos"], faults=kinds,
                          ops_desk=not o["no_ops_desk"])
        try:
            result = replay(options, extra_env=extra_env, say=self.stdout.write)
        except KeyboardInterrupt:
            self.stdout.write("stopped.")
            return
        except ProbeFailed as error:
            raise CommandError(str(error)) from None
        self.stdout.write(terminal.summary(result))
        run_dir = Path(result["run_dir"])
        self.stdout.write(f"\nreport: {run_dir / 'report.html'} (in Chinese: "
                          f"{result['pages']['zh-hans']['page']}; figure: {result['charts']}, "
                          f"JSON: report.json, Locust: {result['run']['locust_report']})")
        if result.get("chaos", {}).get("broken"):
            raise CommandError(f"chaos run (seed {seed}): invariants BROKEN: "
                               f"{', '.join(result['chaos']['broken'])}")
