"""The source registry with each source's crawl status, for /api/sources and the sources page.

Status comes from what the crawl leaves behind: the articles stored per source (count and the
newest), and the URLs claimed but not yet finished in the crawl state's frontier. Sources whose
articles are stored but which the registry does not list (another registry file was crawled, or a
source was removed) are listed after the registry's, marked `registered: false`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from search.backends.base import QueryError, Store
from shellwatch.config import Settings

log = logging.getLogger(__name__)


@dataclass
class SourceStatus:
    name: str
    language: str
    homepage: str | None
    feeds: list[str]
    sitemaps: list[str]
    interval_minutes: int
    articles: int = 0
    articles_at_least: bool = False  # `articles` is a lower bound (the store stopped counting there)
    latest_article_at: datetime | None = None
    latest_article_title: str | None = None
    latest_article_id: str | None = None
    pending_urls: int | None = None  # None when the crawl state cannot be read here
    registered: bool = True  # False: articles from it are stored, but the registry does not list it
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "language": self.language,
            "homepage": self.homepage,
            "feeds": self.feeds,
            "sitemaps": self.sitemaps,
            "interval_minutes": self.interval_minutes,
            "articles": self.articles,
            "articles_at_least": self.articles_at_least,
            "latest_article_at": self.latest_article_at.isoformat() if self.latest_article_at else None,
            "latest_article_title": self.latest_article_title,
            "latest_article_id": self.latest_article_id,
            "pending_urls": self.pending_urls,
            "registered": self.registered,
            "problems": self.problems,
        }


class SourcesUnavailable(RuntimeError):
    """The registry file cannot be read; the message names it."""


def source_statuses(settings: Settings, store: Store) -> list[SourceStatus]:
    from crawlers.registry import RegistryError, load_sources

    try:
        sources = load_sources(settings.sources_file)
    except RegistryError as exc:
        raise SourcesUnavailable(str(exc)) from None
    pending = _pending_by_source(settings)
    statuses = []
    for source in sources:
        status = SourceStatus(
            name=source.name,
            language=source.language.value,
            homepage=source.homepage,
            feeds=source.feeds,
            sitemaps=source.sitemaps,
            interval_minutes=source.interval_minutes,
            pending_urls=pending.get(source.name, 0) if pending is not None else None,
        )
        try:
            result = store.search(f'source:"{source.name}"', limit=1, facets=False)
        except QueryError as exc:  # a source name the query syntax cannot quote
            status.problems.append(f"cannot count articles: {exc}")
        else:
            status.articles = result.total
            status.articles_at_least = result.total_relation == "gte"
            if result.hits:
                newest = result.hits[0].article.article
                status.latest_article_at = newest.published_at or newest.fetched_at
                status.latest_article_title = newest.title
                status.latest_article_id = newest.id
        statuses.append(status)
    listed = {status.name.lower() for status in statuses}
    for facet in store.search("", limit=1).facets.get("source", []):
        if facet.value.lower() in listed:
            continue
        # e.g. the demo crawls its own registry file: still show where the stored coverage came from
        status = SourceStatus(facet.value, "?", None, [], [], 0, articles=facet.count, registered=False)
        newest = store.search(f'source:"{facet.value}"', limit=1, facets=False).hits
        if newest:
            article = newest[0].article.article
            status.language = article.language.value
            status.latest_article_at = article.published_at or article.fetched_at
            status.latest_article_title = article.title
            status.latest_article_id = article.id
        statuses.append(status)
    return statuses


def _pending_by_source(settings: Settings) -> dict[str, int] | None:
    """Unfinished frontier URLs per source; None when the crawl state is not reachable."""
    from crawlers.state import open_crawl_state

    try:
        state = open_crawl_state(settings)
    except Exception as exc:  # noqa: BLE001 - the status page must render without the crawl state
        log.warning("event=crawl-state-unavailable error=%r", exc)
        return None
    try:
        counts: dict[str, int] = {}
        for item in state.peek_pending():
            source = str(item.payload.get("source", "?"))
            counts[source] = counts.get(source, 0) + 1
        return counts
    except Exception as exc:  # noqa: BLE001
        log.warning("event=crawl-state-unreadable error=%r", exc)
        return None
    finally:
        state.close()
