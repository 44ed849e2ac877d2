"""Finding article URLs: feeds (RSS 2.0, Atom, RDF), sitemaps (incl. Google News), listing pages.

Pure functions over fetched bytes / HTML, so each can be tested on a saved file. feedparser reads
every feed dialect; sitemaps are read with lxml with entities and network access off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import feedparser
from lxml import etree
from lxml import html as lxml_html

from crawlers.dates import parse_timestamp
from crawlers.urls import canonicalize_url, host_of
from shellwatch.domain import Language

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
)
NEXT_PAGE_TEXT = re.compile(
    r"^\s*(?:下一页|下一頁|下页|下頁|后一页|更多|next|next page|older|older posts|older entries|more|»|›|>>)\s*[»›>]*\s*$",
    re.IGNORECASE,
)
# Paths that are never articles: site furniture, feeds, media.
NOT_ARTICLE = re.compile(
    r"(?:/(?:tag|tags|category|categories|author|authors|search|login|register|about|contact|feed|rss|page)(?:/|$))"
    r"|\.(?:jpg|jpeg|png|gif|svg|webp|css|js|xml|rss|ico|mp4|mp3)$",
    re.IGNORECASE,
)
ARTICLE_LIKE = re.compile(
    r"\d{3,}|\.s?html?$|/20\d{2}[/-]\d{1,2}|/(?:article|articles|news|post|posts|story|p)/", re.I
)


class NotAFeed(ValueError):
    """The document is not RSS, Atom or RDF (HTML, garbage)."""


@dataclass(frozen=True)
class Discovered:
    """One article URL found by discovery, with what the feed or sitemap said about it."""

    url: str
    title: str | None = None
    published_at: datetime | None = None  # a publication time (feed, Google News sitemap)
    lastmod: datetime | None = None  # a sitemap's <lastmod>: when it changed, used for --since only

    @property
    def dated(self) -> datetime | None:
        return self.published_at or self.lastmod


def parse_feed(body: bytes, base_url: str, language: Language) -> list[Discovered]:
    """Entries of an RSS / Atom / RDF feed; NotAFeed when the document is not a feed."""
    parsed = feedparser.parse(body, response_headers={"content-location": base_url})
    # An empty but well-formed feed has a version (and often a harmless bozo flag): not a failure.
    if not parsed.entries and not parsed.get("version"):
        reason = getattr(parsed, "bozo_exception", None) or "no feed elements"
        raise NotAFeed(f"not RSS/Atom/RDF: {reason}")
    found = []
    for entry in parsed.entries:
        link = entry.get("link") or next(
            (link.get("href") for link in entry.get("links", []) if link.get("href")), None
        )
        if not link:
            continue
        published = entry.get("published") or entry.get("updated") or entry.get("dc_date")
        found.append(
            Discovered(
                url=urljoin(base_url, link.strip()),
                title=(entry.get("title") or "").strip() or None,
                published_at=feed_time(published, language),
            )
        )
    return found


def feed_time(value: str | None, language: Language) -> datetime | None:
    """A feed date (RFC 822 in RSS, RFC 3339 in Atom), zone-less ones read in the source's zone."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return parse_timestamp(value, language)
    if parsed.tzinfo is None or re.search(r"-0000\s*$", value):
        return parse_timestamp(parsed.replace(tzinfo=None).isoformat(), language)
    return parsed


def feed_links_in_html(html: str, base_url: str) -> list[str]:
    """Feeds a page advertises with `<link rel=alternate type=application/rss+xml>`."""
    try:
        tree = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    links = []
    for link in tree.xpath("//link[@rel='alternate'][@href]"):
        if (link.get("type") or "").split(";")[0].strip().lower() in FEED_TYPES:
            links.append(urljoin(base_url, link.get("href").strip()))
    return links


@dataclass(frozen=True)
class SitemapEntries:
    articles: list[Discovered]
    sitemaps: list[Discovered]  # children of a sitemap index (published_at = lastmod)


def parse_sitemap(body: bytes, base_url: str, language: Language) -> SitemapEntries:
    """A `<urlset>` (with Google News `<news:news>` when present) or a `<sitemapindex>`."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=True)
    try:
        root = etree.fromstring(body.strip(), parser=parser)
    except etree.XMLSyntaxError as exc:
        raise NotAFeed(f"not a sitemap: {exc}") from None
    if root is None or etree.QName(root).localname not in ("urlset", "sitemapindex"):
        raise NotAFeed("not a sitemap: no <urlset> or <sitemapindex>")
    articles, sitemaps = [], []
    for node in root:
        if not isinstance(node.tag, str):
            continue
        fields = _sitemap_fields(node)
        loc = fields.get("loc")
        if not loc:
            continue
        item = Discovered(
            urljoin(base_url, loc),
            fields.get("title"),
            parse_timestamp(fields.get("publication_date"), language),
            parse_timestamp(fields.get("lastmod"), language),
        )
        (sitemaps if etree.QName(node).localname == "sitemap" else articles).append(item)
    return SitemapEntries(articles, sitemaps)


def sitemaps_in_robots(text: str, base_url: str) -> list[str]:
    return [
        urljoin(base_url, line.split(":", 1)[1].strip())
        for line in text.splitlines()
        if line.lower().startswith("sitemap:")
    ]


def _sitemap_fields(node: etree._Element) -> dict[str, str]:
    fields: dict[str, str] = {}
    for child in node.iter():
        if isinstance(child.tag, str) and child is not node and child.text and child.text.strip():
            fields.setdefault(etree.QName(child).localname, child.text.strip())
    return fields


def listing_links(html: str, base_url: str, allow: list[str]) -> list[str]:
    """Article links on a listing page: those matching `allow` patterns, or article-looking
    links on the same site when the source gives none."""
    try:
        tree = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    patterns = [re.compile(p) for p in allow]
    own_host = host_of(canonicalize_url(base_url))
    listing = canonicalize_url(base_url)
    links: dict[str, None] = {}
    for href in tree.xpath("//a/@href"):
        url = urljoin(base_url, href.strip()).split("#")[0]
        if not url.startswith(("http://", "https://")) or canonicalize_url(url) == listing:
            continue
        path = urlsplit(url).path
        if patterns:
            if any(p.search(url) for p in patterns):
                links[url] = None
        elif (
            host_of(canonicalize_url(url)) == own_host
            and not NOT_ARTICLE.search(path)
            and ARTICLE_LIKE.search(path)
        ):
            links[url] = None
    return list(links)


def next_page_links(html: str, base_url: str) -> list[str]:
    """The listing's next page(s): rel=next, or a link labelled 下一页 / Next / Older."""
    try:
        tree = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    found = [urljoin(base_url, h) for h in tree.xpath("//link[@rel='next']/@href | //a[@rel='next']/@href")]
    for anchor in tree.xpath("//a[@href]"):
        if NEXT_PAGE_TEXT.match(anchor.text_content() or ""):
            found.append(urljoin(base_url, anchor.get("href")))
    return list(dict.fromkeys(u for u in found if u.startswith(("http://", "https://")) and u != base_url))


def on_or_after(when: datetime | None, since: date | None) -> bool:
    """Whether an entry dated `when` is within a backfill to `since` (undated entries are kept)."""
    return since is None or when is None or when.date() >= since
