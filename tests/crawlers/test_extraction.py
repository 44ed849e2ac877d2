"""Article extraction on saved pages: title, main text without boilerplate, author, date, language."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from crawlers.encoding import decode_page
from crawlers.extraction import NotAnArticle, detect_language, extract_article
from shellwatch.domain import Language
from tests.crawlers.newsroom import NEWSROOM

CST = timezone(timedelta(hours=8))
FETCHED = datetime(2024, 1, 10, 3, 0, tzinfo=UTC)


def extract(path: str, language: Language, url: str | None = None, content_type: str = "text/html", **hints):
    html, _ = decode_page((NEWSROOM / path).read_bytes(), content_type)
    return extract_article(
        html, url=url or f"http://news.test/{path}", source_language=language, fetched_at=FETCHED, **hints
    )


def test_simplified_page_with_metadata() -> None:
    page = extract("zh-a/yi-34b.html", Language.ZH, url="http://news.test/zh-a/yi-34b.html?utm_source=rss")
    assert page.title == "零一万物Yi-34B被指套壳Llama，官方回应"
    assert "沿用了Meta的Llama架构" in page.text and "对张量改名是团队的疏忽" in page.text
    assert "版权所有" not in page.text and "关于我们" not in page.text  # footer and navigation are gone
    assert page.published_at == datetime(2023, 11, 14, 18, 30, tzinfo=CST) and page.date_origin == "metadata"
    assert page.language == Language.ZH
    assert page.canonical_url == "http://news.test/zh-a/yi-34b.html"  # rel=canonical, tracking dropped


def test_gbk_page_whose_only_date_is_in_the_text() -> None:
    page = extract("zh-a/gbk.html", Language.ZH)
    assert page.published_at == datetime(2023, 3, 17, 14, 20, tzinfo=CST)
    assert page.date_origin in ("htmldate", "text")
    assert "百度回应称" in page.text and "镕、堃、喆" in page.text


def test_big5_page() -> None:
    page = extract("big5-header/bytedance.html", Language.ZH, content_type="text/html; charset=big5")
    assert page.title == "字節跳動被指調用OpenAI接口訓練自家模型"
    assert "並否認模型是蒸餾而來" in page.text
    assert page.language == Language.ZH


def test_relative_date_is_resolved_against_the_fetch_time() -> None:
    page = extract("zh-a/relative.html", Language.ZH)
    assert page.published_at == FETCHED - timedelta(hours=3)
    assert page.date_origin == "text"


def test_feed_time_wins() -> None:
    hint = datetime(2023, 11, 14, 18, 30, tzinfo=CST)
    page = extract("zh-a/relative.html", Language.ZH, published_hint=hint, title_hint="feed title")
    assert page.published_at == hint and page.date_origin == "feed"


def test_english_page_with_json_ld_and_comments() -> None:
    page = extract("en-d/news/2023/12/yi-llama.html", Language.EN)
    assert page.published_at == datetime(2023, 11, 15, 3, tzinfo=UTC)
    assert page.author == "Jane Doe"
    assert "trained from scratch" in page.text
    assert "first!" not in page.text  # reader comments are not the article
    assert page.language == Language.EN


def test_english_date_only_in_text() -> None:
    page = extract("en-d/news/2023/12/distill.html", Language.EN)
    assert page.published_at == datetime(2023, 12, 15, tzinfo=UTC)


def test_malformed_html_still_yields_the_story() -> None:
    page = extract("zh-a/malformed.html", Language.ZH)
    assert page.title.startswith("格式错误的页面")
    assert "ChatGPT生成的数据蒸馏训练" in page.text and "相当普遍" in page.text


def test_chinese_byline_author() -> None:
    page = extract("zh-a/yi-34b.html", Language.ZH)
    assert page.author == "张三"


@pytest.mark.parametrize(
    "html", ["", "<html><body><nav>首页</nav></body></html>", "<html><body>   </body></html>"]
)
def test_pages_without_an_article(html: str) -> None:
    with pytest.raises(NotAnArticle) as caught:
        extract_article(html, url="http://x/a", source_language=Language.ZH, fetched_at=FETCHED)
    assert caught.value.reason in ("no_article_text", "unparsable_html")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("零一万物被指套壳Llama，李开复回应称Yi-34B从零训练。", Language.ZH),
        (
            "01.AI was accused of renaming Llama tensors; it said the model was trained from scratch.",
            Language.EN,
        ),
        (
            "An English story quoting one word: 套壳 (wrapper), and nothing else in Chinese at all here.",
            Language.EN,
        ),
    ],
)
def test_language_detection(text: str, language: Language) -> None:
    assert detect_language(text, default=Language.EN if language == Language.ZH else Language.ZH) == language


def test_a_headline_and_dateline_repeated_atop_the_text_are_left_out() -> None:
    """A short page whose article holds its <h1> and <time>: the extractor returns them as part of
    the text, where they ran into the first sentence (the headline has no full stop). The title and
    the time are kept in their own fields; the text starts with the body."""
    when = "2026-11-29T16:37:22.246965+00:00"
    html = (
        "<html><head><title>Lurin-13B被指套壳Llama</title></head><body><nav><a href='/'>Home</a></nav>"
        f"<article><h1>Lurin-13B被指套壳Llama</h1><time datetime='{when}'>{when}</time>"
        "<p>Lurin-13B被指套壳Llama。</p><p>第52号报道：社区开发者对权重文件进行了逐层比对，"
        "并在论坛公开了第52版比对脚本。</p><p>该公司发言人表示将于下周说明情况，编号52。</p></article></body></html>"
    )
    page = extract_article(
        html, url="http://news.test/a/52.html", source_language=Language.ZH, fetched_at=FETCHED
    )
    assert page.title == "Lurin-13B被指套壳Llama"
    assert page.text.startswith("Lurin-13B被指套壳Llama。")
    assert when not in page.text
