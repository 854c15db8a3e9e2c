"""The deployment files: docker-compose.yml parses and runs the service as the README says."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = bool(os.environ.get("SUPPORTBOT_REQUIRE_BROWSER"))


def test_compose_file_is_valid() -> None:
    if shutil.which("docker-compose") is None:
        if REQUIRED:
            raise AssertionError("docker-compose is not installed (.ci/run installs it)")
        pytest.skip("docker-compose not installed")
    # Debian's docker-compose parses and validates without a Docker engine.
    result = subprocess.run(
        ["docker-compose", "config", "-q"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_compose_keeps_data_on_a_volume_and_takes_telegram_from_the_environment() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["supportbot"]
    assert "supportbot-data:/data" in service["volumes"]
    assert service["environment"]["SUPPORTBOT_DATA_DIR"] == "/data"
    assert service["environment"]["TELEGRAM_BOT_TOKEN"].startswith("${TELEGRAM_BOT_TOKEN")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["supportbot", "run"]' in dockerfile and "USER supportbot" in dockerfile
