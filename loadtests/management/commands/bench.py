"""`manage.py bench`: run the side-by-side benchmark and write BENCHMARKS.md's latest table."""

from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from loadtests import bench, risk_bench, servers, shard_bench
from loadtests.bench_report import report

MARK = "<!-- bench:latest -->"


class Command(BaseCommand):
    help = ("Benchmark the purchase (b) on every web server against its limit (L), the DRF "
            "reference (a0), the sold-out answer (e) against a bare GET, (c), (f), (g), (d), "
            "risk scoring per core (--risk-rounds 0 leaves it out), and (s) a sale over 1, 2 "
            "and 3 shards of a local Redis Cluster against its bare limit (--shard-rounds 0 "
            "leaves it out; --shards-only runs it alone).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customers", type=int, default=5000)
        parser.add_argument("--duration", type=float, default=5.0)
        parser.add_argument("--concurrency", type=int, default=32)
        parser.add_argument("--rounds", type=int, default=6)
        parser.add_argument("--server", choices=servers.KINDS, default=None,
                            help="the server of the project's rows (default: WEB_SERVER, "
                                 f"else {servers.DEFAULT})")
        parser.add_argument("--compare", default=",".join(servers.KINDS),
                            help="servers whose purchase rows are compared (comma-separated)")
        parser.add_argument("--web-workers", type=int, default=None,
                            help="processes per server (default: WEB_WORKERS, else 3)")
        parser.add_argument("--web-threads", type=int, default=None,
                            help="threads per process (default: WEB_THREADS, else 2)")
        parser.add_argument("--port", type=int, default=8077)
        parser.add_argument("--generator", choices=("auto", "wrk", "gevent"), default="auto",
                            help="load generator (auto: wrk where installed, else gevent)")
        parser.add_argument("--no-write", action="store_true", help="print, do not write")
        risk_bench.add_arguments(parser)  # --risk-only and its options
        parser.add_argument("--pipeline-only", action="store_true",
                            help="only (d), from in-process admissions (loadtests.pipeline_bench)"
                                 "; prints, writes nothing")
        parser.add_argument("--consumers", type=int, default=1,
                            help="with --pipeline-only: worker processes draining at once")
        parser.add_argument("--shards-only", action="store_true",
                            help="only (s), on a Redis Cluster it starts and stops "
                                 "(loadtests.shard_bench); SQLite or PostgreSQL, on a "
                                 "database whose name contains 'bench'; prints, writes nothing")
        parser.add_argument("--shards", default=",".join(map(str, shard_bench.SHARDS)),
                            help="(s): the shard counts, comma-separated")
        parser.add_argument("--shard-admissions", type=int, default=shard_bench.ADMISSIONS,
                            help="(s): admissions per row and round")
        parser.add_argument("--shard-clients", type=int, default=shard_bench.CLIENTS,
                            help="(s): client processes")
        parser.add_argument("--shard-rounds", type=int, default=shard_bench.ROUNDS,
                            help="(s): rounds (0 leaves (s) out of the full run)")

    def handle(self, *args, **o) -> None:
        if o["risk_only"]:
            return risk_bench.command(self, **o)
        if o["shards_only"]:
            risk_bench.fresh_database()
            rows = self._shards(o)
            self.stdout.write("\n" + "\n".join([*shard_bench.describe(rows), "",
                                                *shard_bench.capacity_lines(rows)]))
            return
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            raise CommandError("the benchmark compares against PostgreSQL: set DATABASE_URL "
                               "(make bench does: postgres://postgres@127.0.0.1:5432/...)")
        bench.ensure_database()
        call_command("migrate", verbosity=0)
        if o["pipeline_only"]:
            from loadtests import pipeline_bench

            result = pipeline_bench.run(buyers=o["customers"], consumers=o["consumers"])
            self.stdout.write(pipeline_bench.describe(result))
            return
        shape = servers.shape_from_env(server=o["server"], workers=o["web_workers"],
                                       threads=o["web_threads"])
        compared = [k.strip() for k in o["compare"].split(",") if k.strip()]
        unknown = set(compared) - set(servers.KINDS)
        if unknown:
            raise CommandError(f"unknown servers {sorted(unknown)}; known: {servers.KINDS}")
        figures, info = bench.run(
            customers=o["customers"], duration=o["duration"], concurrency=o["concurrency"],
            rounds=o["rounds"], shape=shape, compared=compared, port=o["port"],
            say=lambda text: self.stdout.write(f"  {text}"), generator=o["generator"],
        )
        if o["risk_rounds"]:
            self.stdout.write("  risk scoring, the current code (loadtests.risk_bench)")
            risk_bench.fresh_database()  # the HTTP rows are done: their data can go
            runs, _, _ = risk_bench.run(
                buyers=o["risk_buyers"], attempts=o["risk_attempts"], stock=o["risk_stock"],
                rounds=o["risk_rounds"], say=lambda text: self.stdout.write(f"    {text}"),
                compare=False)
            figures.risk = {"attempts_per_core_s": risk_bench.attempts_per_core_s(runs)}
        if o["shard_rounds"]:
            figures.shards = self._shards(o)
        table = report(figures, info, shape=shape, concurrency=o["concurrency"],
                       duration=o["duration"])
        self.stdout.write("\n" + table)
        if not o["no_write"]:
            path = Path(settings.BASE_DIR) / "BENCHMARKS.md"
            text = path.read_text() if path.exists() else f"# Benchmarks\n\n{MARK}\n"
            head, _, _ = text.partition(MARK)
            path.write_text(f"{head}{MARK}\n{table}")
            self.stdout.write(self.style.SUCCESS(f"written to {path}"))

    def _shards(self, o: dict) -> list:
        self.stdout.write("  (s) a sale over shards of a local Redis Cluster "
                          "(loadtests.shard_bench)")
        return shard_bench.run_on_local_cluster(
            shards=tuple(int(n) for n in o["shards"].split(",")),
            admissions=o["shard_admissions"], clients=o["shard_clients"],
            rounds=o["shard_rounds"], say=lambda text: self.stdout.write(f"    {text}"))
