"""The generic news spider: every source of the registry, through its feeds, sitemaps and listings.

One spider for all sources (rather than one per discovery kind) so per-domain politeness is counted
once per domain. Discovery finds article URLs; each is claimed in the shared crawl state before it
is requested, so no URL is fetched twice across runs or processes; a killed crawl's claimed but
unfinished URLs are requested again first. Every outcome is counted under `shellwatch/…` in the
crawl stats, failures under `shellwatch/failed/<reason>`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.gz import gunzip
from twisted.python.failure import Failure

from crawlers import discovery
from crawlers.encoding import UndecodablePage, decode_page
from crawlers.extraction import NotAnArticle, extract_article
from crawlers.items import ArticleItem
from crawlers.overrides import SourceOverride, load_override
from crawlers.registry import load_sources
from crawlers.state import CrawlState, FeedValidators, open_crawl_state
from crawlers.urls import canonicalize_url, host_of
from shellwatch.config import Settings, load_settings
from shellwatch.domain import Article, Language, Source

logger = logging.getLogger(__name__)

ARTICLE_PRIORITY = 10  # finish articles before discovering more
HTML_TYPES = (b"text/html", b"application/xhtml+xml", b"text/plain")
# Failures worth another try in a later run; everything else is final for that URL.
MAX_ATTEMPTS = 3
TRANSIENT = re.compile(r"^(?:timeout|connection|dns|data_loss|http_429|http_5\d\d)$")


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(
        self,
        sources: list[Source] | str | None = None,
        since: date | str | None = None,
        ingest_urls: Iterable[str] = (),
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        # From `scrapy crawl news -a sources=FILE -a since=YYYY-MM-DD` both arrive as strings.
        if isinstance(sources, str):
            sources = load_sources(Path(sources))
        self.sources = {source.name: source for source in sources or []}
        self.since = date.fromisoformat(since) if isinstance(since, str) else since
        self.ingest_urls = list(ingest_urls)
        self.overrides: dict[str, SourceOverride] = {s.name: load_override(s) for s in self.sources.values()}
        self.backfill_reached: set[str] = set()  # listing chains whose articles are older than `since`
        self.resumed: set[str] = set()  # canonical URLs an interrupted run left pending
        # Backfill paging: chain → (its page's article URLs still outstanding, next-page requests).
        self.waiting_pages: dict[str, tuple[set[str], list[scrapy.Request]]] = {}
        self.state: CrawlState

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings: Settings = crawler.settings.get("SHELLWATCH_SETTINGS") or load_settings()
        spider.shellwatch_settings = settings
        spider.state = open_crawl_state(settings)
        crawler.signals.connect(spider._close_state, signal=scrapy.signals.spider_closed)
        return spider

    def _close_state(self) -> None:
        self.state.close()

    def count(self, key: str, by: int = 1) -> None:
        self.crawler.stats.inc_value(f"shellwatch/{key}", by)

    # ---- start --------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if self.ingest_urls:
            for url in self.ingest_urls:
                yield self._fetch_article(url, source=self._source_for_ingest(url), ingest=True)
            return
        for pending in self.state.pending(all_of_them=self.shellwatch_settings.embedded):
            source = self.sources.get(pending.payload.get("source", ""))
            if source is not None:
                self.count("resumed")
                self.resumed.add(pending.url)
                yield self._article_request(
                    pending.payload.get("url") or pending.url, source, pending.payload
                )
        for source in self.sources.values():
            for url in source.feeds:
                yield self._feed_request(url, source)
            for url in source.sitemaps:
                yield scrapy.Request(
                    url,
                    self.parse_sitemap,
                    errback=self.failed,
                    dont_filter=True,
                    cb_kwargs={"source": source.name},
                )
            for url in source.start_urls:
                yield scrapy.Request(
                    url,
                    self.parse_listing,
                    errback=self.failed,
                    dont_filter=True,
                    cb_kwargs={"source": source.name, "page": 1, "chain": url},
                )

    # ---- discovery ----------------------------------------------------------------------------

    def _feed_request(self, url: str, source: Source) -> scrapy.Request:
        headers = {}
        validators = self.state.validators(url)
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        return scrapy.Request(
            url,
            self.parse_feed,
            errback=self.failed,
            headers=headers,
            dont_filter=True,
            meta={"handle_httpstatus_list": [304]},
            cb_kwargs={"source": source.name},
        )

    def parse_feed(self, response: Response, source: str) -> Iterable[scrapy.Request]:
        self.count("fetched")
        if response.status == 304:
            self.count("not_modified")
            return
        src = self.sources[source]
        try:
            entries = discovery.parse_feed(response.body, response.url, src.language)
        except discovery.NotAFeed as exc:
            advertised = (
                discovery.feed_links_in_html(response.text, response.url)
                if isinstance(response, TextResponse)
                else []
            )
            if advertised and not response.meta.get("discovered_feed"):
                self.count("feeds_discovered", len(advertised))
                for url in advertised:
                    request = self._feed_request(url, src)
                    request.meta["discovered_feed"] = True
                    yield request
                return
            self._fail("feed_not_xml", response.url, str(exc))
            return
        for entry in entries:
            if discovery.on_or_after(entry.published_at, self.since):
                request = self._claim_and_request(entry, src)
                if request is not None:
                    yield request
        # Validators are saved after the entries are claimed (pending), so a crawl killed in
        # between still fetches them on resume instead of getting a 304 and losing them.
        self.state.save_validators(
            response.url,
            FeedValidators(_header(response, b"ETag"), _header(response, b"Last-Modified")),
        )

    def parse_sitemap(self, response: Response, source: str) -> Iterable[scrapy.Request]:
        self.count("fetched")
        src = self.sources[source]
        body = response.body
        if response.url.endswith("/robots.txt"):
            for url in discovery.sitemaps_in_robots(response.text, response.url):
                yield scrapy.Request(
                    url, self.parse_sitemap, errback=self.failed, cb_kwargs={"source": source}
                )
            return
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            except (OSError, ValueError) as exc:
                self._fail("sitemap_invalid", response.url, str(exc))
                return
        try:
            entries = discovery.parse_sitemap(body, response.url, src.language)
        except discovery.NotAFeed as exc:
            self._fail("sitemap_invalid", response.url, str(exc))
            return
        for child in entries.sitemaps:
            if discovery.on_or_after(child.dated, self.since):
                yield scrapy.Request(
                    child.url, self.parse_sitemap, errback=self.failed, cb_kwargs={"source": source}
                )
        patterns = [re.compile(p) for p in src.allow]
        for entry in entries.articles:
            if patterns and not any(p.search(entry.url) for p in patterns):
                continue
            if discovery.on_or_after(entry.dated, self.since):
                request = self._claim_and_request(entry, src)
                if request is not None:
                    yield request

    def parse_listing(
        self, response: Response, source: str, page: int, chain: str
    ) -> Iterable[scrapy.Request]:
        self.count("fetched")
        src = self.sources[source]
        if not isinstance(response, TextResponse):
            self._fail("not_html", response.url, response.headers.get(b"Content-Type", b"").decode("latin-1"))
            return
        try:
            html, _ = decode_page(response.body, _content_type(response))
        except UndecodablePage as exc:
            self._fail("undecodable", response.url, str(exc))
            return
        generic = discovery.listing_links(html, response.url, src.allow)
        links = list(self.overrides[source].listing_links(response, generic))
        new: set[str] = set()
        for url in links:
            request = self._claim_and_request(discovery.Discovered(url), src, chain=chain)
            if request is not None:
                new.add(request.cb_kwargs["claimed"])
                yield request
            elif canonicalize_url(url) in self.resumed:
                new.add(canonicalize_url(url))  # unfinished by a killed run: older pages may be too
        limit = self.crawler.settings.getint(
            "SHELLWATCH_BACKFILL_PAGES" if self.since else "SHELLWATCH_LISTING_PAGES"
        )
        if page >= limit:
            return
        next_pages = [
            scrapy.Request(
                url,
                self.parse_listing,
                errback=self.failed,
                priority=-page,
                cb_kwargs={"source": source, "page": page + 1, "chain": chain},
            )
            for url in discovery.next_page_links(html, response.url)
        ]
        if not self.since:
            # The newest articles are on the first pages: page on while a page brings unseen ones.
            if new:
                yield from next_pages
        elif new:
            # Backfill: the next page waits until this page's articles are in, then goes only if
            # none of them is older than `since` (see _article_done).
            self.waiting_pages[chain] = (new, next_pages)
        elif chain not in self.backfill_reached:
            yield from next_pages

    def _claim_and_request(
        self, entry: discovery.Discovered, source: Source, chain: str | None = None
    ) -> scrapy.Request | None:
        canonical = canonicalize_url(entry.url)
        payload = {
            "source": source.name,
            "url": entry.url,  # as linked: the canonical form may not be fetchable (a dropped www.)
            "title": entry.title,
            "published_at": entry.published_at.isoformat() if entry.published_at else None,
            "chain": chain,
        }
        if not self.state.claim(canonical, payload):
            self.count("skipped_seen")
            return None
        return self._article_request(entry.url, source, payload)

    def _article_request(self, url: str, source: Source, payload: dict[str, Any]) -> scrapy.Request:
        return scrapy.Request(
            url,
            self.parse_article,
            errback=self.failed,
            priority=ARTICLE_PRIORITY,
            cb_kwargs={"source": source.name, "hints": payload, "claimed": canonicalize_url(url)},
        )

    def _fetch_article(self, url: str, source: Source, ingest: bool) -> scrapy.Request:
        canonical = canonicalize_url(url)
        self.state.claim(canonical, {"source": source.name, "url": url})
        return scrapy.Request(
            url,
            self.parse_article,
            errback=self.failed,
            priority=ARTICLE_PRIORITY,
            dont_filter=True,
            cb_kwargs={"source": source.name, "hints": {}, "claimed": canonical, "ingest": ingest},
        )

    def _source_for_ingest(self, url: str) -> Source:
        """The registry source whose URLs share the longest prefix with `url`, else one named by host."""
        canonical = canonicalize_url(url)
        best: tuple[int, Source] | None = None
        for source in self.sources.values():
            for known in [*source.feeds, *source.sitemaps, *source.start_urls, source.homepage or ""]:
                prefix = canonicalize_url(known).rsplit("/", 1)[0] + "/" if known else ""
                if prefix and canonical.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), source)
        if best is not None:
            return best[1]
        host = host_of(canonical) or "ingest"
        source = self.sources.get(host) or Source(name=host, language=Language.EN, start_urls=[url])
        self.sources[source.name] = source
        self.overrides.setdefault(source.name, SourceOverride(source))
        return source

    # ---- articles -----------------------------------------------------------------------------

    def parse_article(
        self, response: Response, source: str, hints: dict[str, Any], claimed: str, ingest: bool = False
    ) -> Iterable[ArticleItem]:
        try:
            yield from self._article(response, source, hints, claimed, ingest)
        finally:
            self._article_done(hints.get("chain"), claimed)

    def _article(
        self, response: Response, source: str, hints: dict[str, Any], claimed: str, ingest: bool
    ) -> Iterable[ArticleItem]:
        self.count("fetched")
        self.count("articles_fetched")
        src = self.sources[source]
        if not _is_html(response):
            self._fail("not_html", response.url, _content_type(response) or "no Content-Type", claimed)
            return
        try:
            html, _ = decode_page(response.body, _content_type(response))
            fetched_at = datetime.now(UTC)
            page = extract_article(
                html,
                url=response.url,
                source_language=src.language,
                fetched_at=fetched_at,
                title_hint=hints.get("title"),
                published_hint=datetime.fromisoformat(hints["published_at"])
                if hints.get("published_at")
                else None,
            )
        except UndecodablePage as exc:
            self._fail("undecodable", response.url, str(exc), claimed)
            return
        except NotAnArticle as exc:
            self._fail(exc.reason, response.url, str(exc), claimed)
            return
        article = Article(
            url=response.url,
            canonical_url=page.canonical_url,
            source=src.name,
            language=page.language,
            title=page.title,
            text=page.text,
            author=page.author,
            published_at=page.published_at,
            fetched_at=fetched_at,
        )
        adjusted = self.overrides[source].adjust_article(article, response)
        if adjusted is None:
            self._fail("dropped_by_override", response.url, src.override or "", claimed)
            return
        chain = hints.get("chain")
        if self.since and chain and adjusted.published_at and adjusted.published_at.date() < self.since:
            self.backfill_reached.add(chain)
        yield ArticleItem(
            article=adjusted,
            requested_url=claimed,
            final_url=canonicalize_url(response.url),
            ingest=ingest,
            claimed=[claimed],
        )

    def _article_done(self, chain: str | None, claimed: str) -> None:
        """One article of a backfill listing page is in; the last one releases the next page."""
        waiting = self.waiting_pages.get(chain or "")
        if waiting is None:
            return
        outstanding, next_pages = waiting
        outstanding.discard(claimed)
        if outstanding:
            return
        del self.waiting_pages[chain]
        if chain not in self.backfill_reached:
            for request in next_pages:
                self.crawler.engine.crawl(request)

    # ---- failures -----------------------------------------------------------------------------

    def failed(self, failure: Failure) -> None:
        request = failure.request
        reason = failure_reason(failure)
        claimed = request.cb_kwargs.get("claimed")
        if reason == "http_304":
            return
        self._fail(reason, request.url, failure.getErrorMessage(), claimed)
        if claimed is not None:
            self._article_done((request.cb_kwargs.get("hints") or {}).get("chain"), claimed)

    def _fail(self, reason: str, url: str, detail: str, claimed: str | None = None) -> None:
        self.count(f"failed/{reason}")
        logger.warning("crawl_failed reason=%s url=%s detail=%s", reason, url, detail[:300])
        if claimed is None:
            return
        # A transient failure stays pending for the next run, up to MAX_ATTEMPTS; others are final.
        if TRANSIENT.match(reason) and self.state.retry_later(claimed) < MAX_ATTEMPTS:
            return
        self.state.complete(claimed)


def failure_reason(failure: Failure) -> str:
    """A short, countable name for why a request failed."""
    if failure.check(HttpError):
        status = failure.value.response.status
        return f"http_{status}"
    if failure.check(IgnoreRequest):
        return "robots_disallowed" if "robots.txt" in str(failure.value) else "ignored"
    if failure.check(DownloadTimeoutError):
        return "timeout"
    if failure.check(DownloadCancelledError):
        return "too_large" if "max size" in str(failure.value) else "cancelled"
    if failure.check(DownloadConnectionRefusedError, DownloadFailedError):
        return "connection"
    if failure.check(CannotResolveHostError):
        return "dns"
    if failure.check(ResponseDataLossError):
        return "data_loss"
    return type(failure.value).__name__.lower()


def _is_html(response: Response) -> bool:
    if not isinstance(response, TextResponse):
        return False
    declared = _content_type(response).encode("latin-1").lower()
    return declared.startswith(HTML_TYPES) if declared else isinstance(response, HtmlResponse)


def _content_type(response: Response) -> str:
    return (response.headers.get(b"Content-Type") or b"").decode("latin-1")


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
