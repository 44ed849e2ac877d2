"""The item that flows through the pipelines: an extracted Article plus what dedupe needs to know."""

from __future__ import annotations

from dataclasses import dataclass, field

from shellwatch.domain import Article


@dataclass
class ArticleItem:
    article: Article
    requested_url: str  # canonical form of the URL that was claimed for this fetch
    final_url: str  # canonical form of the URL after redirects
    ingest: bool = False  # given by the user (`shellwatch ingest`): skip the relevance filter
    fingerprint: frozenset[int] | None = None
    outcome: str = "new"  # new, or syndicated when `article` is an earlier copy being updated
    claimed: list[str] = field(default_factory=list)  # canonical URLs to complete after hand-off
