"""Near-duplicate detection for syndicated copies (转载): the same text on several outlets.

Reposts keep the sentences and change the frame: a new title, a "转载自…" line, a disclaimer at
the end. So an article's fingerprint is the set of hashes of its normalised sentences (title line
and short fragments left out), and two articles are one when most sentences of the shorter one
appear in the other (`MIN_CONTAINMENT`). The crawl state indexes sentence hashes, so finding the
first copy is one lookup per sentence, not a scan of every article.
"""

from __future__ import annotations

import hashlib
import re

MIN_SENTENCE_CHARS = 12  # shorter fragments ("责任编辑：张三") say nothing about identity
MIN_SENTENCES = 2
MIN_CONTAINMENT = 0.6
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=[.](?=\s))|\n+")
_NOISE = re.compile(r"[\W_]+", re.UNICODE)
_HASH_MASK = (1 << 63) - 1  # fits a signed 64-bit SQLite integer


def fingerprint(text: str, title: str | None = None) -> frozenset[int] | None:
    """Hashes of the text's sentences, or None when there are too few to compare."""
    lines = text.splitlines()
    if title and lines and _normalise(lines[0]) == _normalise(title):
        lines = lines[1:]  # extractors often repeat the headline as the first line
    hashes = set()
    for sentence in _SENTENCE_END.split("\n".join(lines)):
        normalised = _normalise(sentence or "")
        if len(normalised) >= MIN_SENTENCE_CHARS:
            digest = hashlib.blake2b(normalised.encode("utf-8"), digest_size=8).digest()
            hashes.add(int.from_bytes(digest, "big") & _HASH_MASK)
    return frozenset(hashes) if len(hashes) >= MIN_SENTENCES else None


def is_copy(shared: int, size_a: int, size_b: int) -> bool:
    """Whether two fingerprints sharing `shared` sentences make one article."""
    return shared >= MIN_SENTENCES and shared >= MIN_CONTAINMENT * min(size_a, size_b)


def _normalise(text: str) -> str:
    return _NOISE.sub("", text.lower())
