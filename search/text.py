"""Text normalisation shared by indexing and querying, so both see the same tokens.

Chinese is folded to simplified script (`nlp.script.to_simplified`) and cut into overlapping
character bigrams (零一万物 → 零一 一万 万物); everything is NFKC-folded (full-width → ASCII) and
lower-cased. Latin words are left whole: the SQLite FTS5 tokenizer (porter unicode61) stems them and
Elasticsearch's `cjk` analyser does the same bigram cut on its side.
"""

from __future__ import annotations

import re
import unicodedata

from nlp.script import to_simplified

# Han ideographs (CJK unified + extension A + compatibility) — the characters we bigram.
CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
WORD = re.compile(r"[^\W_]+", re.UNICODE)


def has_cjk(text: str) -> bool:
    return CJK_RUN.search(text) is not None


def simplified(text: str) -> str:
    """Traditional → simplified only (no case or width folding): for display names."""
    return to_simplified(text)


def fold(text: str) -> str:
    """NFKC, lower case, traditional → simplified: the form every comparison uses."""
    if text.isascii():
        return text.lower()
    return to_simplified(unicodedata.normalize("NFKC", text).lower())


def bigrams(run: str) -> list[str]:
    """Overlapping bigrams of one run of Han characters; a single character stays itself."""
    if len(run) < 2:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


# Two C-level substitutions instead of a Python call per run: space every Han run off from its
# neighbours, then replace each character by itself + its successor (a bigram) and drop the last
# character of a run (the second alternative; its unmatched groups substitute as empty strings).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_RUNS = re.compile(f"([{_HAN}]+)")
_BIGRAMS = re.compile(f"([{_HAN}])(?=([{_HAN}]))|(?<=[{_HAN}])[{_HAN}](?![{_HAN}])")


def index_form(text: str) -> str:
    """The text as the full-text index stores it: folded, Han runs replaced by their bigrams."""
    folded = fold(text)
    if folded.isascii():
        return folded
    return _BIGRAMS.sub(r"\1\2 ", _SPACE_RUNS.sub(r" \1 ", folded))


def tokens(text: str) -> list[str]:
    """Tokens of `index_form` (unstemmed): what a query term or phrase becomes."""
    return WORD.findall(index_form(text))
