"""(d) side by side: two versions of the pipeline alternately (A B A B ...) in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h3_bench REDIS_URL=redis://127.0.0.1:6379/10 \\
        python -m loadtests.pipeline_ab --old 4939842 --rounds 3

A is a commit, exported with `git archive` into a scratch folder; B is this work tree as it
is (uncommitted edits included), or another commit with --new. Both are measured by this
tree's `loadtests/pipeline_bench.py` (copied into A), each run on a database made anew, so
only the pipeline differs. On a machine shared with other work the speed drifts by tens of
percent within minutes: alternating spreads the drift over both, and CPU per order (this
process and its PostgreSQL backend) says more than wall-clock orders/s.
"""

from __future__ import annotations

import argparse
import json
import os
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


def measure(tree: Path, admissions: int) -> dict:
    output = subprocess.run(
        [sys.executable, "-m", "loadtests.pipeline_bench", "--json",
         "--admissions", str(admissions)],
        cwd=tree, check=True, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(tree)}).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="commit measured as A")
    parser.add_argument("--new", default="", help="commit measured as B (default: this tree)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--admissions", type=int, default=60_000)
    args = parser.parse_args()
    trees = {"A": export(args.old), "B": export(args.new) if args.new else HERE}
    results: dict[str, list[dict]] = {"A": [], "B": []}
    print("| run | code | orders/s | CPU us/order (Python + PostgreSQL) |\n|---|---|---:|---:|")
    for n in range(args.rounds):
        for name in "AB":
            result = measure(trees[name], args.admissions)
            results[name].append(result)
            print(f"| {n + 1} | {name} | {result['orders_per_s']:,.0f} "
                  f"| {result['cpu_us_per_order']:,.0f} ({result['cpu_us_per_order_python']:,.0f}"
                  f" + {result['cpu_us_per_order_postgres']:,.0f}) |", flush=True)
    for name, runs in results.items():
        label = args.old if name == "A" else (args.new or "this tree")
        rate = statistics.median(r["orders_per_s"] for r in runs)
        cpu = statistics.median(r["cpu_us_per_order"] for r in runs)
        print(f"{name} ({label}): median {rate:,.0f} orders/s, {cpu:,.0f} us CPU per order")


if __name__ == "__main__":
    main()
