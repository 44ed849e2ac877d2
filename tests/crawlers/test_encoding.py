"""Decoding GBK / GB18030 / Big5 pages, wrong declarations, and refusing mojibake."""

import pytest

from crawlers.encoding import UndecodablePage, decode_page, looks_like_mojibake
from tests.crawlers.newsroom import NEWSROOM

TEXT_ZH = "零一万物被指套壳Llama，李开复回应：模型从零训练。镕堃喆"
TEXT_TW = "零一萬物被指套殼Llama，李開復回應：模型從零訓練。"


def test_gbk_page_declared_in_meta() -> None:
    text, encoding = decode_page((NEWSROOM / "zh-a" / "gbk.html").read_bytes(), "text/html")
    assert encoding == "gb18030"  # declared gbk, decoded with its superset
    assert "百度文心一言被质疑使用ChatGPT生成的数据训练" in text
    assert "镕、堃、喆" in text and "©" in text  # © only exists in GB18030, not GBK


def test_big5_page_declared_only_in_the_http_header() -> None:
    body = (NEWSROOM / "big5-header" / "bytedance.html").read_bytes()
    text, encoding = decode_page(body, "text/html; charset=big5")
    assert encoding == "big5hkscs"
    assert "字節跳動被指調用OpenAI接口訓練自家模型" in text


@pytest.mark.parametrize("codec", ["gbk", "gb18030", "big5", "utf-8"])
def test_undeclared_pages_are_detected(codec: str) -> None:
    source = TEXT_TW if codec == "big5" else TEXT_ZH.replace("镕堃喆", "") if codec == "gbk" else TEXT_ZH
    body = f"<html><body><p>{source * 4}</p></body></html>".encode(codec)
    text, _ = decode_page(body, "text/html")
    assert source in text


def test_a_wrong_header_charset_loses_to_the_meta_declaration() -> None:
    body = f'<html><head><meta charset="gbk"></head><body>{TEXT_ZH[:20]}</body></html>'.encode("gbk")
    text, encoding = decode_page(body, "text/html; charset=utf-8")
    assert encoding == "gb18030" and TEXT_ZH[:20] in text


def test_utf8_declared_as_latin1_is_not_turned_into_mojibake() -> None:
    body = f"<p>{TEXT_ZH}</p>".encode()
    text, encoding = decode_page(body, "text/html; charset=iso-8859-1")
    assert encoding == "utf-8" and TEXT_ZH in text


def test_bytes_no_codec_reads_cleanly_are_refused() -> None:
    garbage = bytes(range(0x80, 0x100)) * 50
    with pytest.raises(UndecodablePage):
        decode_page(b"<html><body>" + garbage + b"</body></html>", "text/html; charset=utf-8")


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        (TEXT_ZH, False),
        ("Café — naïve résumé, “quoted”", False),
        (TEXT_ZH.encode("utf-8").decode("cp1252", errors="replace"), True),
        ("锟斤拷锟斤拷烫烫烫", True),
    ],
)
def test_mojibake_detection(text: str, bad: bool) -> None:
    assert looks_like_mojibake(text) is bad
