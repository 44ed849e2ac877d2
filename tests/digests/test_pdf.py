"""PDF digests: text read back (English and Chinese), and a check that fails when glyphs are missing.

Without a CJK font WeasyPrint draws empty boxes while the PDF's text layer still reads correctly,
so reading the text alone proves nothing. `cjk_characters_by_font` reports, for every Chinese
character on the pages, the embedded font that draws it: all must be drawn by an embedded CJK font.
The last test shows that this check catches a system without one.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib
import pytest
from pypdf import PdfReader

from digests import build_digest, render
from digests.fonts import has_cjk
from tests.digests.conftest import NOW, TODAY

pytestmark = pytest.mark.slow

CJK_FONT_NAMES = ("NotoSansCJK", "Noto-Sans-CJK", "SourceHanSans", "WenQuanYi", "WenQuanYiZenHei")


def cjk_characters_by_font(pdf: bytes) -> dict[str, int]:
    """Chinese characters drawn per font (BaseFont without the subset prefix), over all pages."""
    counts: dict[str, int] = {}

    def visit(text, _cm, _tm, font, _size) -> None:
        drawn = sum(1 for ch in text if has_cjk(ch))
        if drawn:
            name = str(font.get("/BaseFont", "?")).lstrip("/").split("+")[-1] if font else "?"
            counts[name] = counts.get(name, 0) + drawn

    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visit)
    return counts


def embedded_fonts(pdf: bytes) -> dict[str, bool]:
    """BaseFont name → whether the font program is embedded (FontFile, FontFile2 or FontFile3)."""
    found: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in (page["/Resources"].get("/Font") or {}).values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            name = str(font["/BaseFont"]).lstrip("/").split("+")[-1]
            found[name] = any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
    return found


def assert_chinese_drawn_with_cjk_font(pdf: bytes) -> None:
    by_font = cjk_characters_by_font(pdf)
    assert by_font, "no Chinese text in the PDF"
    wrong = {name: n for name, n in by_font.items() if not name.replace("-", "").startswith(CJK_FONT_NAMES)}
    assert not wrong, f"Chinese characters drawn with non-CJK fonts (empty boxes): {wrong}"
    embedded = embedded_fonts(pdf)
    assert all(embedded.get(name) for name in by_font), f"CJK font not embedded: {embedded}"


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory, kb):
    """Both languages rendered once for the module (PDF rendering is the slow part)."""
    from search import open_store
    from shellwatch.config import load_settings
    from tests.digests.conftest import december_2023, fill

    settings = load_settings(SHELLWATCH_DATA_DIR=str(tmp_path_factory.mktemp("data")))
    with open_store(settings) as store:
        fill(store, *december_2023())
        digests = {
            lang: build_digest(store, kb, "2023-12", lang, today=TODAY, now=NOW) for lang in ("en", "zh")
        }
    return {lang: render(digest, "pdf") for lang, digest in digests.items()}


def test_pdf_text_reads_back_in_both_languages(pdfs) -> None:
    for lang, pdf in pdfs.items():
        assert pdf.startswith(b"%PDF-")
        reader = PdfReader(io.BytesIO(pdf))
        text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
        assert "ByteDance has been using OpenAI's API" in text  # quotes keep their language
        assert "网友发现，用中文询问Gemini Pro" in text
        if lang == "zh":
            assert "ShellWatch 月度简报：大模型套壳争议，2023-12" in text
            assert "持续中的事件" in text and "有争议（已否认）" in text
        else:
            assert "ShellWatch monthly digest: LLM wrapper controversies, 2023-12" in text
            assert "Ongoing incidents" in text and "Disputed (denied)" in text


def test_pdf_text_via_pdftotext(pdfs, tmp_path) -> None:
    path = tmp_path / "digest.pdf"
    path.write_bytes(pdfs["zh"])
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
    ).stdout
    assert "本月概览" in text.decode("utf-8")


def test_chinese_is_drawn_with_an_embedded_cjk_font(pdfs) -> None:
    for pdf in pdfs.values():
        assert_chinese_drawn_with_cjk_font(pdf)


def test_pdf_contains_both_charts(pdfs) -> None:
    reader = PdfReader(io.BytesIO(pdfs["en"]))
    images = {
        image.name: image.data for page in reader.pages for image in page.images
    }  # resources are shared
    assert len(images) == 2
    assert all(len(data) > 5000 for data in images.values())


def test_glyph_check_catches_a_system_without_cjk_font(tmp_path: Path) -> None:
    """The same check on a PDF WeasyPrint made while fontconfig saw only DejaVu: it must fail."""
    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    config = tmp_path / "fonts.conf"
    config.write_text(
        f'<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"<dir>{dejavu}</dir><cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>",
        encoding="utf-8",
    )
    script = textwrap.dedent(
        """
        import sys
        from weasyprint import HTML
        html = '<html lang="zh-CN"><body style="font-family: DejaVu Sans">字节跳动回应 ShellWatch</body></html>'
        sys.stdout.buffer.write(HTML(string=html).write_pdf())
        """
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(config)}
    pdf = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, env=env).stdout
    path = tmp_path / "boxes.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True
    ).stdout
    assert "字节跳动回应" in text.decode("utf-8")  # the text layer looks fine …
    with pytest.raises(AssertionError, match="non-CJK fonts|no Chinese text"):  # … but the glyph check fails
        assert_chinese_drawn_with_cjk_font(pdf)


def test_empty_month_pdf_without_stylesheet_warnings(store, kb, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="weasyprint")
    pdf = render(build_digest(store, kb, "2023-06", "zh", today=TODAY, now=NOW), "pdf")
    assert not caplog.records, [r.getMessage() for r in caplog.records]  # e.g. CSS WeasyPrint ignores
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "2023-06 无可报告内容" in text
    assert_chinese_drawn_with_cjk_font(pdf)
