"""(d) side by side: versions of the pipeline alternately (A B A B ...) in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h3_bench REDIS_URL=redis://127.0.0.1:6379/10 \\
        python -m loadtests.pipeline_ab --variant A=4939842 --variant B=. \\
        --variant "C=. --consumers 2" --rounds 3

Each variant is LABEL=REV, then any options of `loadtests.pipeline_bench` for it. REV `.` is
this work tree as it is (uncommitted edits included); any other is a commit, exported with
`git archive` into a scratch folder. All are measured by this tree's
`loadtests/pipeline_bench.py` (copied into each export), each run on a database made anew, so
only the pipeline differs. On a machine shared with other work the speed drifts by tens of
percent within minutes: alternating spreads the drift over all, and CPU per order (the
workers and their PostgreSQL backends) says more than wall-clock orders/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def export(rev: str) -> Path:
    """The tree of `rev` in a scratch folder, with this tree's measuring script in it."""
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=HERE, check=True,
                         capture_output=True, text=True).stdout.strip()
    target = Path(tempfile.gettempdir()) / "pipeline_ab" / sha
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", sha], cwd=HERE, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    shutil.copy(HERE / "loadtests" / "pipeline_bench.py", target / "loadtests")
    return target


def measure(tree: Path, options: list[str], admissions: int) -> dict:
    output = subprocess.run(
        [sys.executable, "-m", "loadtests.pipeline_bench", "--json",
         "--admissions", str(admissions), *options],
        cwd=tree, check=True, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(tree)}).stdout
    return json.loads(output.strip().splitlines()[-1])


def variant(spec: str) -> tuple[str, Path, list[str]]:
    """LABEL=REV [options] -> (label, code tree, options)."""
    label, _, rest = spec.partition("=")
    rev, *options = shlex.split(rest)
    return label, HERE if rev == "." else export(rev), options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", required=True,
                        help="LABEL=REV [pipeline_bench options]; REV . is this tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--admissions", type=int, default=60_000)
    args = parser.parse_args()
    variants = [variant(spec) for spec in args.variant]
    results: dict[str, list[dict]] = {label: [] for label, _, _ in variants}
    print("| run | code | orders/s | CPU us/order (Python + PostgreSQL) |\n|---|---|---:|---:|")
    for n in range(args.rounds):
        for label, tree, options in variants:
            result = measure(tree, options, args.admissions)
            results[label].append(result)
            print(f"| {n + 1} | {label} | {result['orders_per_s']:,.0f} "
                  f"| {result['cpu_us_per_order']:,.0f} ({result['cpu_us_per_order_python']:,.0f}"
                  f" + {result['cpu_us_per_order_postgres']:,.0f}) |", flush=True)
    for spec, runs in zip(args.variant, results.values(), strict=True):
        rate = statistics.median(r["orders_per_s"] for r in runs)
        cpu = statistics.median(r["cpu_us_per_order"] for r in runs)
        print(f"{spec}: median {rate:,.0f} orders/s, {cpu:,.0f} us CPU per order")


if __name__ == "__main__":
    main()
