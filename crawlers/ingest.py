"""`shellwatch ingest FILE`: one saved article page (HTML) extracted and handed off without a crawl."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from crawlers.encoding import decode_page
from crawlers.extraction import extract_article
from crawlers.handoff import Handoff, load_handoff
from crawlers.settings import SHELLWATCH_HANDOFF
from shellwatch.config import Settings
from shellwatch.domain import Article, Language


def ingest_file(
    settings: Settings, path: Path, *, fetched_at: datetime, handoff: Handoff | None = None
) -> Article:
    """Extract the saved page and hand it off (default: the production hand-off target); the URL is
    its `<link rel=canonical>` or a file URL. Raises ValueError when the page is no article."""
    html, _ = decode_page(path.read_bytes())
    url = path.resolve().as_uri()
    page = extract_article(html, url=url, source_language=Language.EN, fetched_at=fetched_at)
    article = Article(
        url=page.canonical_url if page.canonical_url.startswith("http") else url,
        canonical_url=page.canonical_url,
        source="ingest",
        language=page.language,
        title=page.title,
        text=page.text,
        author=page.author,
        published_at=page.published_at,
        fetched_at=fetched_at,
    )
    (handoff or load_handoff(SHELLWATCH_HANDOFF))(settings, article)
    return article
