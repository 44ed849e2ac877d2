"""Input preparation: decoding, HTML stripping, cleaning, cutting, language and sentence spans.

Everything here must survive any input (binary garbage, 5 MB pages, emoji, lone surrogates) in
bounded time; what was done to the input is reported as notes for `Analysis.notes`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shellwatch.domain import Language

MAX_CHARS = 200_000  # longer inputs are cut (a news article is a few thousand characters)
MAX_SENTENCE = 600  # longer sentences are split at clause breaks

# An opening or closing tag: a fragment of closing tags ("</p></div>") is markup too.
HTML_HINT = re.compile(
    r"<\s*/?\s*(!doctype|html|body|head|p|div|br|span|a|article|section|h[1-6]|script|style|meta|li|table)\b",
    re.I,
)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ufffe\uffff\ud800-\udfff]")
# Counted in runs, and ASCII letters in bytes: a list of every character costs more.
HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
NOT_ASCII_LETTER = bytes(
    b for b in range(256) if not (ord("A") <= b <= ord("Z") or ord("a") <= b <= ord("z"))
)
SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f]+")
BLANK_LINES = re.compile(r"\n\s*\n+")

# A sentence ends at Chinese end punctuation (and any closing quotes), at English end punctuation
# followed by space, or at a line break.
SENTENCE_END = re.compile(r"[。！？!?；;…]+[”’」』\")）]*|\.[\"”’')]*(?=\s|$)|\n+")
# A full stop after these is no sentence end ("Mr. Lee", "U.S. officials", "No. 1").
ABBREVIATION = re.compile(
    r"(?:\b(?:mr|mrs|ms|dr|prof|st|vs|no|co|jr|sr|inc|ltd|corp|e\.g|i\.e|etc|approx|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)|\b[a-z])$",
    re.I,
)


@dataclass
class PreparedText:
    text: str
    notes: list[str] = field(default_factory=list)
    binary: bool = False


def decode(data: bytes) -> str:
    """Bytes in any encoding (UTF-8, GB18030, Big5 …) as text; undecodable bytes replaced."""
    if not data:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    if best is not None and best.encoding:
        return data.decode(best.encoding, errors="replace")
    return data.decode("utf-8", errors="replace")


def prepare(text: str, *, max_chars: int = MAX_CHARS) -> PreparedText:
    """Clean `text` for analysis: HTML stripped, control characters dropped, long input cut."""
    notes: list[str] = []
    original_length = len(text)
    # Cut generously before the heavier steps so their time is bounded too.
    if len(text) > max_chars * 4:
        text = text[: max_chars * 4]
    if HTML_HINT.search(text[:5000]) or (text.count("<") > 5 and HTML_HINT.search(text)):
        text = strip_html(text)
        notes.append("HTML markup removed")
    garbage = len(CONTROL.findall(text[:20000]))
    sample = min(len(text), 20000)
    binary = sample > 0 and garbage / sample > 0.05
    if binary:
        notes.append("input looks like binary data, not text")
    text = CONTROL.sub(" ", text)
    text = SPACES.sub(" ", text)
    text = BLANK_LINES.sub("\n", text).strip()
    if len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars]
    if original_length > max_chars and len(text) < original_length:
        notes.append(f"input cut at {len(text)} of {original_length} characters")
    return PreparedText(text=text, notes=notes, binary=binary)


def strip_html(markup: str) -> str:
    """The visible text of an HTML page or fragment, one block per line."""
    import lxml.html
    from lxml import etree

    try:
        root = lxml.html.fromstring(markup)
    except (etree.ParserError, ValueError):
        return re.sub(r"<[^>]*>", " ", markup)
    for bad in root.xpath("//script|//style|//noscript|//template|//svg|//iframe|//nav|//footer"):
        bad.drop_tree()
    for block in root.xpath(
        "//p|//div|//br|//li|//h1|//h2|//h3|//h4|//h5|//h6|//tr|//article|//section|//blockquote|//title"
    ):
        block.tail = "\n" + (block.tail or "")
    return root.text_content()


def detect_language(text: str, hint: Language | str | None = None) -> Language:
    """zh when Han characters carry the text (Chinese pages quote English names), en otherwise."""
    sample = text[:20000]
    han = sum(map(len, HAN_RUN.findall(sample)))
    latin = len(sample.encode("ascii", "ignore").translate(None, NOT_ASCII_LETTER))
    if han == 0 and latin == 0 and hint is not None:
        return Language(hint)
    # A Han character carries about as much as three English letters.
    return Language.ZH if han > 0 and han * 3 >= latin else Language.EN


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of the sentences of `text`, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in SENTENCE_END.finditer(text):
        if text[match.start()] == "." and ABBREVIATION.search(text, max(0, match.start() - 6), match.start()):
            continue
        end = match.end()
        _append_trimmed(text, start, end, spans)
        start = end
    _append_trimmed(text, start, len(text), spans)
    return spans


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    # A "sentence" without end punctuation can be a whole page: cut it at clause breaks so the
    # claim rules, which compare cues and names within a sentence, stay linear in the input.
    while end - start > MAX_SENTENCE:
        cut = max(text.rfind(mark, start + MAX_SENTENCE // 2, start + MAX_SENTENCE) for mark in "，,、;； ")
        cut = cut + 1 if cut > start else start + MAX_SENTENCE
        spans.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        spans.append((start, end))
