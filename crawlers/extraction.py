"""Article extraction: decoded HTML → title, main text, author, publication time, language, canonical URL.

trafilatura finds the main text (no navigation, ads or comments) and the title and author; htmldate
(through trafilatura, markup only) and crawlers.dates find the publication time. Hints from the feed
or sitemap (title, time) win when the page itself is vaguer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

import trafilatura
from lxml import etree
from lxml import html as lxml_html

from crawlers.dates import date_from_metadata, date_in_text, parse_timestamp
from crawlers.urls import canonicalize_url, host_of
from shellwatch.domain import Language

MIN_TEXT_CHARS = 50
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")
BYLINE = re.compile(
    r"(?:作者|记者|記者|编辑|編輯|文)\s*[:：|丨]\s*(?P<name>[\u4e00-\u9fff·]{2,8})"
    r"|^\s*By\s+(?P<en>[A-Z][a-z]+(?:\s+[A-Z][a-z.]+){0,3})\s*$"
)
BYLINE_PREFIX = re.compile(r"^(?:by|作者|记者|記者)\s*[:：]?\s*", re.IGNORECASE)
# A date or timestamp standing alone at the top of the text (a dateline): "2024-06-03 09:20",
# "2026-11-29T16:37:22+00:00".
LEADING_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\s+"
)
# " - Site name", "_频道", " | Outlet" at the end of a <title>.
TITLE_SUFFIX = re.compile(r"(?:\s+[-–—]\s+|\s*[_|]\s*)[^-_|–—]{1,30}$")


class NotAnArticle(ValueError):
    """The page has no extractable article; `reason` is the counted failure reason."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class ExtractedPage:
    title: str
    text: str
    author: str | None
    published_at: datetime | None
    language: Language
    canonical_url: str
    date_origin: str  # feed, metadata, htmldate, text or none: where the time came from


def extract_article(
    html: str,
    *,
    url: str,
    source_language: Language,
    fetched_at: datetime,
    title_hint: str | None = None,
    published_hint: datetime | None = None,
) -> ExtractedPage:
    """Extract one article from a decoded page; raise NotAnArticle with a reason otherwise."""
    try:
        tree = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError) as exc:
        raise NotAnArticle("unparsable_html", str(exc)) from None
    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        date_extraction_params={
            "extensive_search": False,
            "original_date": True,
            "outputformat": "%Y-%m-%d %H:%M:%S",
            "max_date": fetched_at.strftime("%Y-%m-%d"),
        },
    )
    text = (document.text or "").strip() if document is not None else ""
    if len(text) < MIN_TEXT_CHARS:
        raise NotAnArticle("no_article_text", f"{len(text)} characters of main text")
    language = detect_language(text, default=source_language)
    title = _title(document.title if document else None, title_hint, tree)
    published_at, origin = _published_at(tree, document, text, title, language, fetched_at, published_hint)
    return ExtractedPage(
        title=title,
        text=_without_headline(text, title),
        author=_author(tree, document.author if document else None),
        published_at=published_at,
        language=language,
        canonical_url=canonical_link(tree, url),
        date_origin=origin,
    )


def _without_headline(text: str, title: str | None) -> str:
    """The text without the headline and dateline a page repeats at its top (the title is kept
    apart, the time read into published_at). Left in, they run into the first sentence, as a
    headline has no full stop, and change how that sentence reads."""
    body = text
    if title and body.startswith(title) and body[len(title) : len(title) + 1].isspace():
        body = body[len(title) :].lstrip()
    if dateline := LEADING_TIMESTAMP.match(body):
        body = body[dateline.end() :]
    return body if len(body) >= MIN_TEXT_CHARS else text


def detect_language(text: str, default: Language) -> Language:
    """zh when Chinese characters make up a fair share of the letters, else en."""
    sample = text[:4000]
    cjk = len(CJK.findall(sample))
    latin = len(LATIN.findall(sample))
    if cjk + latin == 0:
        return default
    # A Chinese character carries about as much as a short English word: weight accordingly.
    return Language.ZH if cjk * 4 >= latin else Language.EN


def canonical_link(tree: lxml_html.HtmlElement, url: str) -> str:
    """The page's `<link rel=canonical>` when it is a real article URL on the same site, else the URL."""
    for href in tree.xpath("//link[translate(@rel,'CANONICAL','canonical')='canonical']/@href"):
        candidate = urljoin(url, href.strip())
        # A saved file (ingest) keeps the URL it was saved from; a web page only a same-site one.
        same_site = url.startswith("file:") or host_of(canonicalize_url(candidate)) == host_of(
            canonicalize_url(url)
        )
        if candidate.startswith(("http://", "https://")) and same_site:
            canonical = canonicalize_url(candidate)
            if canonical.split("?")[0].rstrip("/").count("/") > 2:  # not the home page
                return canonical
    return canonicalize_url(url)


def _author(tree: lxml_html.HtmlElement, extracted: str | None) -> str | None:
    """trafilatura's author, else the page's author metadata, else a byline (作者：… / 記者 … / By …)."""
    if extracted and extracted.strip():
        return extracted.strip()
    for value in tree.xpath(
        "//meta[@property='article:author' or @name='author' or @name='byl' or @itemprop='author']/@content"
    ):
        if value.strip() and not value.strip().startswith("http"):
            return BYLINE_PREFIX.sub("", value.strip())
    for script in tree.xpath("//script[@type='application/ld+json']/text()"):
        name = _json_ld_author(script)
        if name:
            return name
    for text in tree.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)]"):
        match = BYLINE.search(text)
        if match:
            return match.group("name") or match.group("en")
    return None


def _json_ld_author(payload: str) -> str | None:
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    for node in data if isinstance(data, list) else [data]:
        author = node.get("author") if isinstance(node, dict) else None
        if isinstance(author, list) and author:
            author = author[0]
        if isinstance(author, dict) and isinstance(author.get("name"), str):
            return author["name"].strip() or None
        if isinstance(author, str) and author.strip():
            return author.strip()
    return None


def _title(extracted: str | None, hint: str | None, tree: lxml_html.HtmlElement) -> str:
    for candidate in (extracted, hint, " ".join(tree.xpath("//h1//text()"))):
        if candidate and candidate.strip():
            return " ".join(candidate.split())
    for candidate in tree.xpath("//title/text()"):
        if candidate.strip():
            return TITLE_SUFFIX.sub("", " ".join(candidate.split()))
    return ""


def _published_at(
    tree: lxml_html.HtmlElement,
    document: object,
    text: str,
    title: str,
    language: Language,
    fetched_at: datetime,
    hint: datetime | None,
) -> tuple[datetime | None, str]:
    if hint is not None:
        return hint, "feed"
    found = date_from_metadata(tree, language)
    if found:
        return found, "metadata"
    found = parse_timestamp(getattr(document, "date", None), language)
    if found:
        return found, "htmldate"
    page = " ".join(
        " ".join(tree.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)]")).split()
    )
    # The byline right under the headline first, then the top of the story, then the whole page.
    headline = page.find(title[:20]) if title else -1
    byline = page[headline : headline + len(title) + 120] if headline >= 0 else ""
    for region, prefer_absolute in ((byline, False), (text[:600], True), (page[:5000], True)):
        found = date_in_text(region, language, now=fetched_at, prefer_absolute=prefer_absolute)
        if found:
            return found, "text"
    return None, "none"
