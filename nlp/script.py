"""Chinese script and width normalisation for matching.

Traditional → simplified conversion uses OpenCC's character table (TSCharacters, shipped with
opencc-python-reimplemented) compiled once into a `str.translate` table: about a hundred times
faster than OpenCC's segmenting converter, and *length-preserving*, so an offset found in the
normalised text is the same offset in the original (the original is what evidence shows).
Context-dependent phrase conversions (OpenCC's TSPhrases) are skipped on purpose: they change
only rare characters and never the names we match.

`fold` is the matching form: simplified script, ASCII width, lower case, one character per
character. `detect_script` tells simplified, traditional and Latin text apart.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Literal

import numpy

Script = Literal["hans", "hant", "latin"]

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_LETTER = re.compile(r"[A-Za-z\uff21-\uff3a\uff41-\uff5a]")
FOLD_BY_ARRAY = 64  # characters: from this length, a non-ASCII text is folded by an array lookup


def to_simplified(text: str) -> str:
    """Traditional Chinese characters replaced by their simplified forms; same length as `text`."""
    return text.translate(_simplified_table())


def fold(text: str) -> str:
    """The matching form of `text`: simplified, half-width, lower-cased; same length as `text`."""
    if len(text) < FOLD_BY_ARRAY or text.isascii():
        return text.translate(_fold_table())
    # `str.translate` looks each character of a non-ASCII text up in the table one by one
    # (about 50 ns each: 0.35 ms for a 2,000-character Chinese article); one array lookup over
    # the code points does the same in a few microseconds.
    codes = numpy.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=numpy.uint32)
    return _fold_array()[codes].tobytes().decode("utf-32-le", "surrogatepass")


def detect_script(text: str) -> Script:
    """`hant` when the Han characters include traditional-only forms, `hans` for other Han text,
    `latin` when there is (almost) no Han text."""
    han = HAN.findall(text)
    if not han or len(han) * 4 < len(LATIN_LETTER.findall(text)):
        return "latin"
    table = _simplified_table()
    traditional = sum(1 for char in han if ord(char) in table)
    # A few traditional-looking characters also occur in simplified text (names, quotes).
    return "hant" if traditional * 20 >= len(han) and traditional >= 2 else "hans"


def is_traditional(text: str) -> bool:
    return detect_script(text) == "hant"


@lru_cache(maxsize=1)
def _simplified_table() -> dict[int, str]:
    table: dict[int, str] = {}
    source = resources.files("opencc") / "dictionary" / "TSCharacters.txt"
    for line in source.read_text(encoding="utf-8").splitlines():
        traditional, _, simplified = line.partition("\t")
        candidates = simplified.split()
        # One character for one character only, so offsets survive the conversion.
        if len(traditional) == 1 and candidates and len(candidates[0]) == 1 and candidates[0] != traditional:
            table[ord(traditional)] = candidates[0]
    return table


@lru_cache(maxsize=1)
def _fold_array() -> numpy.ndarray:
    """`_fold_table` as an array: the folded code point of every code point (4.5 MB)."""
    array = numpy.arange(0x110000, dtype=numpy.uint32)
    for code, char in _fold_table().items():
        array[code] = ord(char)
    return array


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str]:
    table = dict(_simplified_table())
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII → ASCII
        table[code] = chr(code - 0xFEE0).lower()
    table[0x3000] = " "  # ideographic space
    for code in range(ord("A"), ord("Z") + 1):
        table[code] = chr(code).lower()
    # Other cased letters (Ä, Σ …) lower-case too, but only where that keeps one character.
    for code in range(0xC0, 0x530):
        char = chr(code)
        lower = char.lower()
        if lower != char and len(lower) == 1:
            table[code] = lower
    for dash in "\u2010\u2011\u2012\u2013\u2014\u2212\uff0d":
        table[ord(dash)] = "-"
    table[ord("\u00b7")] = "."
    table[ord("\u30fb")] = "."
    return table
