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
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class RelevanceVerdict:
    relevant: bool
    strong: tuple[str, ...]
    weak: tuple[str, ...]


class RelevanceFilter:
    """Matches the lexicon against title + text; simplified and traditional Chinese alike.

    Plain substring search on the lower-cased text (one C-level scan per term) rather than one big
    regex alternation, which costs tens of milliseconds on a long article.
    """

    def __init__(self, strong: list[str], weak: list[str], min_weak: int = 2):
        self.min_weak = min_weak
        self._strong = _variants(strong)
        self._weak = _variants(weak)

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
        haystack = f"{title}\n{text}".lower()
        strong = tuple(term for term in self._strong if _mentions(haystack, term))
        weak = tuple(term for term in self._weak if _mentions(haystack, term))
        return RelevanceVerdict(bool(strong) or len(weak) >= self.min_weak, strong, weak)


def _variants(terms: list[str]) -> tuple[str, ...]:
    """Lower-cased terms plus the traditional form of each Chinese one, without repeats."""
    to_traditional = OpenCC("s2t")
    variants: dict[str, None] = {}
    for term in terms:
        variants[term.lower()] = None
        if CJK.search(term):
            variants[to_traditional.convert(term).lower()] = None
    return tuple(variants)


def _mentions(haystack: str, term: str) -> bool:
    """Chinese terms anywhere; English ones at a word start, so "api" does not fire inside "rapid"."""
    start = haystack.find(term)
    if start < 0 or CJK.search(term):
        return start >= 0
    while start >= 0:
        if start == 0 or not haystack[start - 1].isalnum():
            return True
        start = haystack.find(term, start + 1)
    return False
