"""`manage.py check --deploy` passes, with no warning, under the documented PRODUCTION profile,
and the F-code key is its own setting (13.11)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_check_deploy_has_no_warning_under_the_production_profile(tmp_path):
    env = {**os.environ, "PRODUCTION": "true", "DJANGO_SETTINGS_MODULE": "config.settings",
           "SECRET_KEY": "a-long-and-random-production-secret-" + "x7Q!" * 10,
           "ALLOWED_HOSTS": "shop.example.com", "VAR_DIR": str(tmp_path),
           "REDIS_URL": settings.REDIS_URL}
    env.pop("DEBUG", None)
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy",
                             "--fail-level", "WARNING"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_fcode_key_defaults_to_the_derivation_codes_were_always_hashed_with():
    assert settings.FCODE_HMAC_KEY == f"fcode:{settings.SECRET_KEY}"
    assert settings.FCODE_HMAC_KEY != settings.SECRET_KEY


def test_codes_are_hashed_with_the_fcode_key_not_the_secret_key(settings):
    from sales.modes.fcodes import code_hash
    before = code_hash("ABCDE-FGHJK-LMNPQ")
    settings.FCODE_HMAC_KEY = "another-key"
    assert code_hash("ABCDE-FGHJK-LMNPQ") != before


def test_flower_and_the_locust_ui_are_not_published_beyond_loopback_and_flower_needs_a_password():
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for name in ("flower", "locust-master"):
        assert all(str(port).startswith("127.0.0.1:") for port in services[name]["ports"]), name
    assert "FLOWER_BASIC_AUTH:?" in services["flower"]["environment"]["FLOWER_BASIC_AUTH"]
