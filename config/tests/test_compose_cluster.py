"""docker-compose.yml's `cluster` profile (issue 17, point 4), read as Compose reads it (YAML,
merge keys included): six redis:7 nodes, cluster-enabled, on the compose network only; a
one-shot service that joins them with `redis-cli --cluster create ... --cluster-yes` once
every node is healthy; and every app service handed REDIS_CLUSTER_URL and waiting for that
service when the profile runs. No daemon is needed (Docker may have none here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings

COMPOSE = Path(settings.BASE_DIR) / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def in_profile(compose: dict) -> dict[str, dict]:
    return {name: s for name, s in compose["services"].items()
            if "cluster" in (s.get("profiles") or [])}


def app_services(compose: dict) -> dict[str, dict]:
    """The services built from the project's image (the `x-app` anchor)."""
    return {name: s for name, s in compose["services"].items() if "build" in s}


def command_of(service: dict) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def test_the_profile_is_three_masters_with_a_replica_each_joined_once(compose):
    profile = in_profile(compose)
    nodes = {name: s for name, s in profile.items() if "--cluster-enabled yes" in command_of(s)}
    assert len(nodes) == 6 and all(s["image"] == "redis:7" for s in nodes.values())
    for name, node in nodes.items():
        assert node["hostname"] == name  # what it announces is what this network resolves
        assert "--cluster-announce-hostname" in command_of(node)
        assert "noeviction" in command_of(node) and "--appendonly yes" in command_of(node)
    [create] = [s for name, s in profile.items() if name not in nodes]
    assert create["image"] == "redis:7" and create["restart"] == "no"
    script = command_of(create)
    assert re.search(r"redis-cli --cluster create \S+ --cluster-replicas 1 --cluster-yes",
                     script)
    assert len(nodes) // 2 == 3  # three masters, a replica each
    assert create["depends_on"] == {name: {"condition": "service_healthy"} for name in nodes}
    volumes = {volume.split(":")[0] for node in nodes.values() for volume in node["volumes"]}
    assert len(volumes) == 6 and volumes <= set(compose["volumes"])  # a node, its own data


def test_every_app_service_gets_the_cluster_url_and_waits_for_the_cluster(compose):
    apps = app_services(compose)
    assert {"web", "worker", "risk-worker", "housekeeping-worker", "beat", "migrate",
            "locust-master", "locust-worker"} <= set(apps)
    [create] = [name for name, s in in_profile(compose).items()
                if "--cluster create" in command_of(s)]
    for name, service in apps.items():
        assert service["environment"]["REDIS_CLUSTER_URL"] == "${REDIS_CLUSTER_URL:-}", name
        waits = service["depends_on"][create]
        assert waits == {"condition": "service_completed_successfully", "required": False}, \
            name  # ignored without the profile: plain `docker compose up` is unchanged
        assert "profiles" not in service, name


def test_the_documented_url_names_a_node_of_the_profile(compose):
    urls = set(re.findall(r"REDIS_CLUSTER_URL=redis://([\w-]+):6379", COMPOSE.read_text()))
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    urls |= set(re.findall(r"REDIS_CLUSTER_URL=redis://([\w-]+):6379", readme))
    assert urls and urls <= set(in_profile(compose))


def test_nothing_of_the_profile_is_published_and_the_rest_only_on_loopback(compose):
    for name, service in in_profile(compose).items():
        assert "ports" not in service, name
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            # the storefront's web is the one public port (a range, one a replica)
            assert name == "web" or str(port).startswith("127.0.0.1:"), (name, port)
    assert compose["services"]["web"]["ports"] == ["8000-8009:8000"]
