"""Highlighted snippets for search hits: HTML-escaped text with `<mark>…</mark>` around matches.

Matching follows the index: Chinese by folded (simplified, NFKC) substring, so 零一萬物 marks
零一万物 and the reverse; English by Porter stem (the same stemmer FTS5 uses, run on an in-memory
FTS5 table), so `accuse` marks "accused". Everything outside the marks is escaped, so the web can
insert a snippet as-is.
"""

from __future__ import annotations

import html
import re
import sqlite3
import threading

from nlp.script import fold
from search.text import CJK_RUN, WORD

SNIPPET_WIDTH = 180
Span = tuple[int, int]


class Highlighter:
    def __init__(self) -> None:
        # Only used for stemming; a private connection so it never contends with the store's.
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(
            "CREATE VIRTUAL TABLE words USING fts5(w, tokenize='porter unicode61 remove_diacritics 2')"
        )
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def highlights(self, title: str, text: str, terms: list[str]) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        title_spans = self.spans(title, terms)
        if title_spans:
            result["title"] = [_mark(title, title_spans, 0, len(title))]
        result["text"] = [snippet(text, self.spans(text, terms))]
        return result

    def spans(self, text: str, terms: list[str]) -> list[Span]:
        """Character spans of `text` matching any of the query's words or phrases."""
        if not terms or not text:
            return []
        folded = fold(text)  # character for character, so offsets in `folded` are offsets in `text`
        spans: list[Span] = []
        latin_terms: list[str] = []
        for term in terms:
            for run in CJK_RUN.findall(fold(term)):
                spans.extend((m.start(), m.end()) for m in re.finditer(re.escape(run), folded))
            latin_terms.extend(WORD.findall(CJK_RUN.sub(" ", fold(term))))
        if latin_terms:
            spans.extend(self._stem_spans(text, latin_terms))
        return _merge(spans)

    def _stem_spans(self, text: str, query_words: list[str]) -> list[Span]:
        # Porter only rewrites endings, so a word can share a stem with a query word only if both
        # start alike: that cheap test keeps the stemmer's work to a handful of candidate words.
        heads = tuple({q.lower()[:2] for q in query_words})
        words = [
            (m.start(), m.end(), word)
            for m in WORD.finditer(text)
            if (word := m.group().lower()).startswith(heads) and not CJK_RUN.match(word)
        ]
        distinct = sorted({w for _, _, w in words})[:5000]
        if not distinct:
            return []
        expression = " OR ".join('"' + w.replace('"', '""') + '"' for w in dict.fromkeys(query_words))
        with self._lock:
            self._db.execute("DELETE FROM words")
            self._db.executemany("INSERT INTO words(rowid, w) VALUES (?, ?)", enumerate(distinct))
            matched = {
                distinct[r]
                for (r,) in self._db.execute("SELECT rowid FROM words WHERE words MATCH ?", (expression,))
            }
        return [(s, e) for s, e, w in words if w in matched]


def snippet(text: str, spans: list[Span], width: int = SNIPPET_WIDTH) -> str:
    """A window of about `width` characters around the first match (the start when none)."""
    if not spans:
        end = min(len(text), width)
        return html.escape(text[:end]) + ("…" if end < len(text) else "")
    first = spans[0][0]
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    body = _mark(text, spans, start, end)
    return ("…" if start > 0 else "") + body + ("…" if end < len(text) else "")


def _mark(text: str, spans: list[Span], start: int, end: int) -> str:
    out: list[str] = []
    cursor = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(html.escape(text[cursor:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        cursor = e
    out.append(html.escape(text[cursor:end]))
    return "".join(out)


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged
