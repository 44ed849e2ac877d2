"""Relevance pre-filter: keep articles that talk about model provenance, drop general AI news.

Reads crawlers/data/relevance_lexicon.yaml. This is a cheap gate in front of the NLP stage, tuned to
keep recall high: one strong cue (套壳, "based on Llama", 蒸馏 …) or two different weak ones
(自研 + 回应, "weights" + "accused" …) keep an article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from opencc import OpenCC

LEXICON_FILE = Path(__file__).with_name("data") / "relevance_lexicon.yaml"


@dataclass(frozen=True)
class RelevanceVerdict:
    relevant: bool
    strong: tuple[str, ...]
    weak: tuple[str, ...]


class RelevanceFilter:
    """Matches the lexicon against title + text; simplified and traditional Chinese alike."""

    def __init__(self, strong: list[str], weak: list[str], min_weak: int = 2):
        self.min_weak = min_weak
        self._strong = _compile(strong)
        self._weak = _compile(weak)

    @classmethod
    def from_file(cls, path: Path = LEXICON_FILE) -> RelevanceFilter:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        missing = {"strong", "weak"} - set(data)
        if missing:
            raise ValueError(f"{path}: relevance lexicon lacks {sorted(missing)}")
        return cls(
            [str(t) for t in data["strong"]], [str(t) for t in data["weak"]], int(data.get("min_weak", 2))
        )

    def judge(self, title: str, text: str) -> RelevanceVerdict:
        haystack = f"{title}\n{text}"
        strong = tuple(sorted({m.group(0).lower() for m in self._strong.finditer(haystack)}))
        weak = tuple(sorted({m.group(0).lower() for m in self._weak.finditer(haystack)}))
        return RelevanceVerdict(bool(strong) or len(weak) >= self.min_weak, strong, weak)


def _compile(terms: list[str]) -> re.Pattern[str]:
    to_traditional = OpenCC("s2t")
    variants: set[str] = set()
    for term in terms:
        variants.add(term)
        if re.search(r"[\u4e00-\u9fff]", term):
            variants.add(to_traditional.convert(term))
    # English terms match at a word start so "api" does not fire inside "rapid".
    parts = [
        re.escape(term) if re.search(r"[\u4e00-\u9fff]", term) else r"(?<![a-z0-9])" + re.escape(term)
        for term in sorted(variants, key=len, reverse=True)
    ]
    return re.compile("|".join(parts), re.IGNORECASE)
