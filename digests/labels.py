"""The digest's visible words in English or Chinese, read from the data file labels.yaml."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from shellwatch.domain import Language


@cache
def _all_labels() -> dict[str, dict[str, Any]]:
    text = resources.files("digests").joinpath("labels.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def labels_for(lang: Language | str) -> dict[str, Any]:
    """The label table of one language; every language has the same keys (a test checks it)."""
    return _all_labels()[Language(lang).value]
