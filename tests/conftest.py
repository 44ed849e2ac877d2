"""Fixtures every test package may use. Servers are real and bound to free 127.0.0.1 ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shellwatch.config import Settings, load_settings
from tests.support.servers import RedisServer, redis_server


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Embedded-mode settings with state under a fresh temporary data directory."""
    for name in ("REDIS_URL", "ELASTICSEARCH_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SHELLWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    return load_settings()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server started for this test on a free port."""
    with redis_server(tmp_path / "redis") as server:
        yield server
