"""docker-compose.yml and the Dockerfile, checked as far as possible without a Docker engine."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shellwatch.config import ENV_NAMES

ROOT = Path(__file__).resolve().parents[1]
PYTHON_SERVICES = {"worker", "beat", "crawler", "api", "flower"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_every_service_the_code_expects_exists(compose: dict) -> None:
    assert {"redis", "elasticsearch"} | PYTHON_SERVICES <= set(compose["services"])


def test_every_service_has_a_healthcheck_and_restart_policy(compose: dict) -> None:
    for name, service in compose["services"].items():
        assert "healthcheck" in service, name
        assert service.get("restart") == "unless-stopped", name


def test_elasticsearch_is_a_pinned_9x_single_node_with_memory_set(compose: dict) -> None:
    service = compose["services"]["elasticsearch"]
    assert re.fullmatch(r"docker\.elastic\.co/elasticsearch/elasticsearch:9\.\d+\.\d+", service["image"])
    assert service["environment"]["discovery.type"] == "single-node"
    assert "-Xmx" in service["environment"]["ES_JAVA_OPTS"]
    assert service["mem_limit"]


def test_python_services_use_only_documented_settings(compose: dict) -> None:
    known = set(ENV_NAMES.values())
    for name in PYTHON_SERVICES:
        environment = compose["services"][name]["environment"]
        assert set(environment) <= known, f"{name}: {set(environment) - known}"
        assert environment["REDIS_URL"].startswith("redis://redis:")
        assert environment["ELASTICSEARCH_URL"].startswith("http://elasticsearch:")


def test_dockerfile_copies_every_package_it_installs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    packages = ["shellwatch", "crawlers", "workers", "nlp", "search", "alerts", "digests", "web"]
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile
        assert (ROOT / package / "__init__.py").exists()


def test_docker_compose_validates_the_file() -> None:
    executable = shutil.which("docker-compose")
    if executable is None:
        pytest.skip(
            "docker-compose (Debian package) is not installed; scripts/install-system-deps.sh installs it"
        )
    result = subprocess.run(
        [executable, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
