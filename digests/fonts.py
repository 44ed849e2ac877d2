"""Find a CJK font for charts and PDFs.

Without one, matplotlib and WeasyPrint draw empty boxes for Chinese while the PDF's text layer
still reads correctly, so the stage looks for a font by family name and refuses to render Chinese
without one. Debian's `fonts-noto-cjk` (preferred) or `fonts-wqy-zenhei` provide them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache

from digests.errors import DigestError

# Simplified-Chinese variants first: the same code points look different in the JP/KR variants.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
)
LATIN_FAMILY = "DejaVu Sans"  # ships with matplotlib, so charts always have it
INSTALL_HINT = "install a CJK font, e.g. `apt-get install fonts-noto-cjk` (or fonts-wqy-zenhei)"

_CJK_TEXT = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")


@dataclass(frozen=True)
class CjkFont:
    family: str
    path: str


def has_cjk(text: str) -> bool:
    return _CJK_TEXT.search(text) is not None


@cache
def find_cjk_font() -> CjkFont | None:
    """The first installed family of CJK_FAMILIES, as matplotlib's font manager sees it."""
    from matplotlib import font_manager

    found = _lookup(font_manager.fontManager.ttflist)
    if found is None:
        # The font cache predates an `apt-get install`: register the system's CJK files directly.
        for path in font_manager.findSystemFonts():
            if re.search(r"cjk|wqy|wenquanyi|sourcehan", path, re.IGNORECASE):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError):
                    continue
        found = _lookup(font_manager.fontManager.ttflist)
    return found


def require_cjk_font() -> CjkFont:
    font = find_cjk_font()
    if font is None:
        raise DigestError(f"Chinese text cannot be drawn: no CJK font found; {INSTALL_HINT}")
    return font


def _lookup(entries: list) -> CjkFont | None:
    by_name = {}
    for entry in sorted(entries, key=lambda e: (e.name, _weight_distance(e.weight), e.fname)):
        if os.path.exists(entry.fname):  # matplotlib's font cache may list a removed package's files
            by_name.setdefault(entry.name, entry.fname)  # the regular weight's file when there is one
    for family in CJK_FAMILIES:
        if family in by_name:
            return CjkFont(family=family, path=by_name[family])
    return None


def _weight_distance(weight: int | str) -> int:
    named = {"normal": 400, "regular": 400, "book": 400, "medium": 500, "bold": 700}
    value = weight if isinstance(weight, int) else named.get(str(weight).lower(), 400)
    return abs(value - 400)
