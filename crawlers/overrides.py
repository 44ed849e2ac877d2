"""Per-source hooks for the few sites the generic spider cannot handle on its own.

A source names one with `override: "package.module:ClassName"` in the registry. The class derives
from `SourceOverride` and replaces only what it needs; the spider calls the hooks below.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from scrapy.http import Response

from shellwatch.domain import Article, Source


class SourceOverride:
    """Defaults: behave like the generic spider."""

    def __init__(self, source: Source):
        self.source = source

    def listing_links(self, response: Response, generic: list[str]) -> Iterable[str]:
        """Article URLs on a listing page (`generic`: what the generic link finder found)."""
        return generic

    def adjust_article(self, article: Article, response: Response) -> Article | None:
        """Fix up an extracted article; None drops the page as not an article."""
        return article


def load_override(source: Source) -> SourceOverride:
    if not source.override:
        return SourceOverride(source)
    module_name, _, attribute = source.override.partition(":")
    try:
        hook = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ValueError(
            f"source {source.name!r}: override {source.override!r} cannot be loaded: {exc}"
        ) from None
    if not (isinstance(hook, type) and issubclass(hook, SourceOverride)):
        raise ValueError(
            f"source {source.name!r}: override {source.override!r} is not a SourceOverride subclass"
        )
    return hook(source)
