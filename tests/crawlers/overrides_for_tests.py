"""A per-source override used by the tests: skips one article link, stamps the author."""

from __future__ import annotations

from collections.abc import Iterable

from scrapy.http import Response

from crawlers.overrides import SourceOverride
from shellwatch.domain import Article


class SkipDistillOverride(SourceOverride):
    def listing_links(self, response: Response, generic: list[str]) -> Iterable[str]:
        return [url for url in generic if "distill" not in url]

    def adjust_article(self, article: Article, response: Response) -> Article | None:
        article.author = f"{article.author} (checked by {self.source.name})"
        return article
