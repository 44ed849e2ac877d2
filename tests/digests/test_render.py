"""Markdown, HTML, JSON and CSV digests, read back: content, escaping, charts, schema, header."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from html.parser import HTMLParser
from importlib import resources

import jsonschema
import numpy as np
import pytest
from matplotlib import image

from digests import DigestError, build_digest, render
from digests.labels import _all_labels
from digests.renderers import CSV_COLUMNS, digest_json_schema
from shellwatch.domain import ClaimType, Language, Stance
from tests.digests.conftest import NOW, TODAY, analysed, claim, fill, when


@pytest.fixture
def december(december_store, kb):
    return build_digest(december_store, kb, "2023-12", "en", today=TODAY, now=NOW)


@pytest.fixture
def december_zh(december_store, kb):
    return build_digest(december_store, kb, "2023-12", "zh", today=TODAY, now=NOW)


@pytest.fixture
def empty(store, kb):
    return build_digest(store, kb, "2023-12", "en", today=TODAY, now=NOW)


def test_label_tables_have_the_same_keys_in_every_language() -> None:
    tables = _all_labels()
    assert set(tables) == {lang.value for lang in Language}

    def keys(table, prefix=""):
        return {prefix + k for k, v in table.items()} | {
            key for k, v in table.items() if isinstance(v, dict) for key in keys(v, f"{prefix}{k}.")
        }

    assert keys(tables["en"]) == keys(tables["zh"])
    for table in tables.values():
        assert set(table["claim_type_labels"]) == {t.value for t in ClaimType}
        assert set(table["stance_labels"]) == {s.value for s in Stance}


def test_markdown_has_every_section_and_the_facts(december) -> None:
    text = render(december, "md").decode("utf-8")
    assert text.startswith("# ShellWatch monthly digest: LLM wrapper controversies, 2023-12\n")
    for heading in (
        "## The month at a glance",
        "## New incidents",
        "## Ongoing incidents",
        "## Most accused",
        "### Claims by type",
        "### Claims by stance",
        "### Allegations per week by claim type",
    ):
        assert f"\n{heading}\n" in text
    assert "| New incidents | 2 | 1 | +1 |" in text
    assert "| Articles in Chinese | 3 | 2 | +1 |" in text
    assert "### ByteDance accused of using the OpenAI API to build its model" in text
    assert "- **Status:** Disputed (denied)" in text
    # First allegation with its outlet (linked) and the quote, untranslated.
    assert "(2023-12-15, [The Verge](<https://www.theverge.com/2023/12/15/" in text
    assert "> 网友发现，用中文询问Gemini Pro“你是谁”时，它回答自己是百度的文心大模型。" in text
    # Coverage grouped by language, with links.
    assert (
        "*Chinese*\n\n- 2023-12-16 · 36氪 · [字节跳动被曝用OpenAI技术开发大模型，账号遭暂停](<https://www.36kr.com/p/2564731862447624>)"
        in text
    )
    assert "| 2023-12-11 | 2 |" in text


def test_chinese_labels(december_zh) -> None:
    text = render(december_zh, "md").decode("utf-8")
    assert text.startswith("# ShellWatch 月度简报：大模型套壳争议，2023-12\n")
    for label in (
        "## 本月概览",
        "## 新事件",
        "## 持续中的事件",
        "**首次指控**",
        "有争议（已否认）",
        "*英文*",
        "| 新指控 | 4 | 1 | +3 |",
    ):
        assert label in text
    assert "The month at a glance" not in text
    # English quotes stay English.
    assert "> ByteDance has been using OpenAI's API to develop its own large language model" in text
    html = render(december_zh, "html").decode("utf-8")
    assert '<html lang="zh-CN">' in html and "<h2>本月概览</h2>" in html


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.images: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attributes = dict(attrs)
        if tag == "img":
            self.images[attributes["id"]] = attributes["src"]

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_self_contained_with_non_empty_charts(december) -> None:
    html = render(december, "html").decode("utf-8")
    parser = _Collector()
    parser.feed(html)
    assert set(parser.images) == {"chart-weekly", "chart-timeline"}
    for src in parser.images.values():
        assert src.startswith("data:image/png;base64,")
        pixels = image.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
        assert pixels.shape[0] > 200 and pixels.shape[1] > 500
        # Not blank: a real plot has many distinct colours (bars, markers, text).
        assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 20
    assert "<script" not in html and "http" not in re.sub(r'href="[^"]+"', "", html).replace("xmlns", "")
    text = "".join(parser.text)
    assert "Gemini Pro calls itself Baidu's Wenxin in Chinese" in text
    assert "字节跳动回应称，公司在自研模型的早期探索中使用了GPT API进行评估，并未用于训练。" in text
    assert (
        '<a href="https://www.scmp.com/tech/big-tech/article/3245858/google-gemini-baidu-ernie" lang="en">'
        in html
    )
    assert '<blockquote lang="zh-CN">' in html


def test_article_text_is_escaped_everywhere(store, kb) -> None:
    evil = analysed(
        "https://example.com/x?a=1&b=<2>",
        "Evil <b>Media</b>",
        Language.EN,
        '<script>alert("title")</script> Foo-34B **wraps** [GPT-4](javascript:alert(1))',
        when("2023-12-05"),
        [
            claim(
                None,
                "Foo-34B",
                ClaimType.API_WRAPPER,
                Stance.ALLEGATION,
                "<img src=x onerror=alert(1)> it wraps GPT-4",
            )
        ],
        ["inc-foo"],
    )
    from shellwatch.domain import Incident

    incident = Incident(
        id="inc-foo",
        subject=None,
        subject_name="Foo-34B",
        claim_types=[ClaimType.API_WRAPPER],
        title_en="<script>alert('incident')</script>",
        title_zh="<i>x</i>",
        started_at=when("2023-12-05"),
        updated_at=when("2023-12-05"),
        article_ids=[evil.id],
    )
    fill(store, [evil], [incident])
    digest = build_digest(store, kb, "2023-12", "en", today=TODAY, now=NOW)
    html = render(digest, "html").decode("utf-8")
    assert "<script" not in html and "<img src=x" not in html and "<b>Media" not in html
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#39;incident&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt; it wraps GPT-4" in html
    assert "javascript:" not in html.replace("[GPT-4](javascript:alert(1))", "")
    assert 'href="https://example.com/x?a=1&amp;b=' not in html  # a URL with <> is not linked
    markdown = render(digest, "md").decode("utf-8")
    assert re.search(r"(?<!\\)<(script|img|b>)", markdown) is None  # every < from an article is escaped
    assert '\\<script\\>alert\\("title"\\)\\</script\\>' in markdown
    assert "\\*\\*wraps\\*\\* \\[GPT-4\\]\\(javascript:alert\\(1\\)\\)" in markdown


def test_json_matches_the_schema_and_the_document(december) -> None:
    stored = json.loads(
        resources.files("digests").joinpath("schema", "digest.schema.json").read_text("utf-8")
    )
    assert stored == digest_json_schema(), "regenerate digests/schema/digest.schema.json (see the README)"
    payload = json.loads(render(december, "json"))
    jsonschema.validate(payload, stored, format_checker=jsonschema.FormatChecker())
    assert payload["schema"] == "shellwatch.digest/1"
    assert payload["month"] == "2023-12" and payload["lang"] == "en"
    assert payload["headline"]["allegations"] == {
        "key": "allegations",
        "value": 4,
        "previous": 1,
        "change": 3,
    }
    bytedance = payload["new_incidents"][0]
    assert bytedance["first_allegation"]["article"]["source"] == "The Verge"
    assert bytedance["coverage"][1]["title"] == "字节跳动被曝用OpenAI技术开发大模型，账号遭暂停"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**payload, "month": 202312}, stored)


def test_csv_has_a_header_and_one_row_per_claim_and_coverage_item(december) -> None:
    text = render(december, "csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    kinds = {}
    for row in rows:
        kinds.setdefault(row["record"], []).append(row)
    assert set(kinds) == {"figure", "breakdown", "incident", "claim", "coverage"}
    assert len(kinds["incident"]) == 3
    assert len(kinds["coverage"]) == 3 + 2 + 1
    figure = next(r for r in kinds["figure"] if r["metric"] == "allegations")
    assert (figure["value"], figure["previous"], figure["change"]) == ("4", "1", "3")
    first = next(
        r
        for r in kinds["claim"]
        if r["role"] == "first_allegation" and r["incident_id"].startswith("inc-gemini")
    )
    assert first["evidence"] == "网友发现，用中文询问Gemini Pro“你是谁”时，它回答自己是百度的文心大模型。"
    assert (first["claim_type"], first["stance"], first["source"], first["language"]) == (
        "api_distilled",
        "allegation",
        "量子位",
        "zh",
    )
    assert all(r["month"] == "2023-12" for r in rows)
    decline = next(
        r for r in kinds["breakdown"] if r["key"] == "llama_based" and r["metric"] == "claims_by_type"
    )
    assert decline["change"] == "-1"  # numbers are not mistaken for formulas


def test_csv_neutralises_spreadsheet_formulas(store, kb) -> None:
    from shellwatch.domain import Incident

    item = analysed(
        "https://example.com/f",
        '=HYPERLINK("x")',
        Language.EN,
        "@SUM(A1)",
        when("2023-12-02"),
        [claim("bytedance", "ByteDance", ClaimType.API_WRAPPER, Stance.ALLEGATION, "-1+1 wraps")],
        ["inc-f"],
    )
    fill(
        store,
        [item],
        [
            Incident(
                id="inc-f",
                subject="bytedance",
                subject_name="ByteDance",
                claim_types=[ClaimType.API_WRAPPER],
                title_en="t",
                title_zh="t",
                started_at=when("2023-12-02"),
                updated_at=when("2023-12-02"),
                article_ids=[item.id],
            )
        ],
    )
    rows = list(
        csv.DictReader(
            io.StringIO(
                render(build_digest(store, kb, "2023-12", "en", today=TODAY, now=NOW), "csv").decode()
            )
        )
    )
    coverage = next(r for r in rows if r["record"] == "coverage")
    assert coverage["title"] == "'@SUM(A1)" and coverage["source"] == '\'=HYPERLINK("x")'


@pytest.mark.parametrize("fmt", ["md", "html", "json", "csv"])
def test_same_digest_renders_to_the_same_bytes(december, fmt) -> None:
    assert render(december, fmt) == render(december.model_copy(deep=True), fmt)


def test_empty_month_says_so_in_every_text_format(empty) -> None:
    assert empty.empty
    markdown = render(empty, "md").decode("utf-8")
    assert "Nothing to report for 2023-12" in markdown and "## New incidents" not in markdown
    assert "Nothing to report for 2023-12" in render(empty, "html").decode("utf-8")
    payload = json.loads(render(empty, "json"))
    jsonschema.validate(payload, digest_json_schema())
    assert payload["new_incidents"] == [] and payload["headline"]["articles"]["value"] == 0
    rows = list(csv.DictReader(io.StringIO(render(empty, "csv").decode())))
    assert {r["record"] for r in rows} == {"figure"}


def test_unknown_format_is_refused(december) -> None:
    with pytest.raises(DigestError, match="unknown digest format 'docx'"):
        render(december, "docx")


def test_running_month_says_it_is_partial(december_store, kb) -> None:
    digest = build_digest(december_store, kb, "2024-02", "zh", today=TODAY, now=NOW)
    markdown = render(digest, "md").decode("utf-8")
    assert "> 本月尚未结束：数据覆盖 2024-02-01 至 2024-02-10。" in markdown
    assert "本月尚未结束" in render(digest, "html").decode("utf-8")


def test_chinese_chart_labels_have_glyphs(december_zh, monkeypatch) -> None:
    """matplotlib warns "Glyph … missing from font(s)" when it draws a box: none may be drawn."""
    import warnings

    from digests.charts import incident_timeline_chart, weekly_allegations_chart
    from digests.fonts import CjkFont

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert weekly_allegations_chart(december_zh).startswith(b"\x89PNG")
        assert incident_timeline_chart(december_zh).startswith(b"\x89PNG")
    # The same chart with a Latin-only font as the "CJK" font draws boxes, and the check sees it.
    monkeypatch.setattr("digests.charts.require_cjk_font", lambda: CjkFont("DejaVu Sans", ""))
    with pytest.warns(UserWarning, match="missing from font"):
        weekly_allegations_chart(december_zh)


def test_no_cjk_font_is_a_clear_error_not_empty_boxes(december_zh, december, monkeypatch) -> None:
    monkeypatch.setattr("digests.fonts.find_cjk_font", lambda: None)
    with pytest.raises(
        DigestError, match="no CJK font found; install a CJK font, e.g. `apt-get install fonts-noto-cjk`"
    ):
        render(december_zh, "html")
    assert render(december_zh, "md").startswith("# ShellWatch 月度简报".encode())  # text formats need no font
    assert b"chart-weekly" in render(december, "html")  # English charts need no CJK font either
