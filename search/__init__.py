"""Store and index: articles, incidents, timelines, subscriptions (see backends/base.py)."""

from __future__ import annotations

from search.backends.base import CapabilityError, QueryError, Store, StoreError, StoreUnavailable
from shellwatch.config import Settings

__all__ = ["CapabilityError", "QueryError", "Store", "StoreError", "StoreUnavailable", "open_store"]


def open_store(settings: Settings) -> Store:
    """The backend the configuration picks: Elasticsearch when ELASTICSEARCH_URL is set, else SQLite."""
    if settings.elasticsearch_url:
        from search.backends.elasticsearch import ElasticsearchStore

        return ElasticsearchStore.from_settings(settings)
    from search.backends.sqlite import SqliteStore

    return SqliteStore.from_settings(settings)
