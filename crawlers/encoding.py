"""Decode fetched pages to text: declared charset first (HTTP header, BOM, `<meta>`), then detection.

Chinese pages are often GBK, GB18030 or Big5 and the declaration is sometimes wrong, so a declared
charset is used only if the body decodes strictly with it. GB2312/GBK are decoded as GB18030 (their
superset) and Big5 as Big5-HKSCS, so a rare character does not become U+FFFD. Text that still looks
like mojibake is refused (`UndecodablePage`) instead of reaching the store.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

# Supersets that decode everything the declared charset can, and more.
SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "cp936": "gb18030",
    "x-gbk": "gb18030",
    "big5": "big5hkscs",
    "cp950": "big5hkscs",
    "iso8859-1": "cp1252",
    "latin-1": "cp1252",
    "ascii": "utf-8",
}
# Signatures of text decoded with the wrong codec: GBK's 锟斤拷 / 烫烫烫, and UTF-8 read as
# Latin-1/cp1252 (a lead byte Â..ô followed by what cp1252 makes of a continuation byte).
MOJIBAKE_MARKERS = re.compile(r"锟斤拷|烫烫烫|屯屯屯|ï¿½")
LATIN1_PAIR = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013-\u203a\u20ac\u2122]"
)
MAX_REPLACEMENT_RATIO = 0.001


class UndecodablePage(ValueError):
    """The page's bytes cannot be turned into trustworthy text."""


def decode_page(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Return (text, encoding used) or raise UndecodablePage."""
    candidates: list[str] = []
    bom_encoding, _ = read_bom(body)
    for declared in (
        bom_encoding,
        http_content_type_encoding(content_type or ""),
        html_body_declared_encoding(body),
    ):
        if declared:
            candidates.append(normalise_encoding(declared))
    for encoding in dict.fromkeys(candidates):
        text = _strict(body, encoding)
        if text is not None and not looks_like_mojibake(text):
            return text, encoding
    detected = from_bytes(body[:200_000]).best() if body else None
    if detected is not None:
        encoding = normalise_encoding(detected.encoding)
        text = _strict(body, encoding)
        if text is not None and not looks_like_mojibake(text):
            return text, encoding
    text = _strict(body, "utf-8")
    if text is not None and not looks_like_mojibake(text):
        return text, "utf-8"
    raise UndecodablePage(f"no charset decodes the page cleanly (declared: {candidates or 'none'})")


def normalise_encoding(name: str) -> str:
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return "utf-8"
    return SUPERSETS.get(canonical, canonical)


def looks_like_mojibake(text: str) -> bool:
    if MOJIBAKE_MARKERS.search(text) or len(LATIN1_PAIR.findall(text)) >= 3:
        return True
    return text.count("\ufffd") > max(2, len(text) * MAX_REPLACEMENT_RATIO)


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding).lstrip("\ufeff")
    except (UnicodeDecodeError, LookupError):
        return None
