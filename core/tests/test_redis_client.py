"""The store's Redis is one client per process, made in core.redis_client for every app."""

from __future__ import annotations

from pathlib import Path

from antiscalper import attempts, linking, mirror, risk
from core import redis_client
from sales.gate import keys

ROOT = Path(__file__).resolve().parents[2]
# The admission hot path's own line per thread, beside the shared client (by design).
OWN_LINE = {"sales/gate/hotline.py"}


def test_every_app_uses_the_one_client_core_makes():
    users = (attempts, linking, mirror, risk)
    assert {module.connection for module in users} == {redis_client.connection}


def test_the_gate_uses_it_too_unless_it_lives_on_a_cluster(settings):
    assert keys.connection is redis_client.gate_connection
    settings.REDIS_CLUSTER_URL = None
    assert keys.connection() is redis_client.connection()


def test_no_other_module_makes_a_client_of_its_own():
    makers = sorted(
        str(path.relative_to(ROOT)) for app in ("core", "shop", "antiscalper", "sales")
        for path in (ROOT / app).rglob("*.py")
        if "tests" not in path.parts and "Redis.from_url(" in path.read_text())
    assert [path for path in makers if path not in OWN_LINE] == ["core/redis_client.py"]
