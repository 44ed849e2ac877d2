"""Where the crawler delivers articles: the workers stage, or a JSON Lines file.

The target is a Scrapy setting, so the same pipeline serves production (`SHELLWATCH_HANDOFF`,
default `workers.handoff:submit_article`) and crawl-only uses such as benchmarks and tests
(`SHELLWATCH_ARTICLES_JSONL`: one Article JSON document per line, the last line for an id wins).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from shellwatch.config import Settings
from shellwatch.domain import Article, to_json

Handoff = Callable[[Settings, Article], None]


def load_handoff(target: str) -> Handoff:
    """Import a `module:function` hand-off target; a wrong one is a clear error at crawl start."""
    module_name, _, attribute = target.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(f"hand-off target {target!r} cannot be loaded: {exc}") from exc
    if not callable(function):
        raise RuntimeError(f"hand-off target {target!r} is not callable")
    return function


class JsonlArticles:
    """Appends each article as one JSON line, flushed at once so a crash loses nothing written."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: TextIO = path.open("a", encoding="utf-8")

    def __call__(self, settings: Settings, article: Article) -> None:
        self._file.write(to_json(article) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
