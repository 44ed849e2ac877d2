"""The store contract's backends as one parametrised `store` fixture, shared by every contract suite
(tests/search/test_store_contract.py, tests/web/test_admin_store_contract.py).

Legs: `sqlite` always; `elasticsearch` when ELASTICSEARCH_URL points at a real Elasticsearch
(`docker compose up elasticsearch`), skipped with the reason otherwise; `elasticsearch-emulator`
against noida-db from PyPI (an emulator answering as 8.15: it runs the real client and request
bodies, skips what it cannot do with the reason, and proves nothing about real Elasticsearch).
The requesting test module provides the `kb` fixture.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from search.backends.base import Store

BACKENDS = [
    "sqlite",
    pytest.param("elasticsearch", marks=pytest.mark.elasticsearch),
    "elasticsearch-emulator",
]


@pytest.fixture(scope="session")
def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.search.emulator import noida_elasticsearch, noida_executable

    if noida_executable() is None:
        pytest.skip("noida-db (the Elasticsearch emulator) is not installed: pip install -e '.[dev]'")
    with noida_elasticsearch(tmp_path_factory.mktemp("noida")) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path, kb) -> Iterator[Store]:
    backend: Store
    if request.param == "sqlite":
        from search.backends.sqlite import SqliteStore

        backend = SqliteStore(tmp_path / "store.sqlite3", kb=kb)
    elif request.param == "elasticsearch":
        url = os.environ.get("ELASTICSEARCH_URL")
        if not url:
            pytest.skip("ELASTICSEARCH_URL is not set (start one with `docker compose up elasticsearch`)")
        from search.backends.elasticsearch import ElasticsearchStore

        backend = ElasticsearchStore(url, prefix=f"test-{uuid.uuid4().hex[:10]}", kb=kb)
    else:
        from tests.search.emulator import UNSUPPORTED, EmulatedElasticsearchStore

        reason = UNSUPPORTED.get(request.function.__name__)
        if reason:
            pytest.skip(f"emulator: {reason}")
        url = request.getfixturevalue("emulator_url")
        backend = EmulatedElasticsearchStore(url, prefix=f"test-{uuid.uuid4().hex[:10]}", kb=kb)
    try:
        yield backend
    finally:
        if request.param != "sqlite":
            backend.drop_everything()  # type: ignore[attr-defined]
        backend.close()
