"""Publication times from text and metadata, as aware datetimes in the right zone."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import html as lxml_html

from crawlers.dates import date_from_metadata, date_in_text, parse_timestamp
from shellwatch.domain import Language

CST = timezone(timedelta(hours=8))
FETCHED = datetime(2024, 1, 10, 3, 0, tzinfo=UTC)  # 11:00 in Beijing


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("发布于 2023年12月15日 10:30 来源：新浪", Language.ZH, datetime(2023, 12, 15, 10, 30, tzinfo=CST)),
        ("2023-12-15 08:00 来源", Language.ZH, datetime(2023, 12, 15, 8, 0, tzinfo=CST)),
        (
            "12月15日消息，百度回应",
            Language.ZH,
            datetime(2023, 12, 15, tzinfo=CST),
        ),  # year-less: last December
        ("1月9日消息", Language.ZH, datetime(2024, 1, 9, tzinfo=CST)),
        ("3小时前 来源：量子位", Language.ZH, datetime(2024, 1, 10, 8, 0, tzinfo=CST)),
        ("半小时前", Language.ZH, datetime(2024, 1, 10, 10, 30, tzinfo=CST)),
        ("昨天 08:15", Language.ZH, datetime(2024, 1, 9, 8, 15, tzinfo=CST)),
        ("Published Dec 15, 2023 at 5:30 pm", Language.EN, datetime(2023, 12, 15, 17, 30, tzinfo=UTC)),
        ("15 December 2023", Language.EN, datetime(2023, 12, 15, tzinfo=UTC)),
        ("2 hours ago", Language.EN, datetime(2024, 1, 10, 1, 0, tzinfo=UTC)),
    ],
)
def test_dates_in_text(text: str, language: Language, expected: datetime) -> None:
    found = date_in_text(text, language, now=FETCHED)
    assert found == expected and found.utcoffset() == expected.utcoffset()


def test_a_full_date_beats_an_earlier_year_less_one() -> None:
    text = "6月3日，作者致歉。记者 2024年6月4日 08:15 报道"
    assert date_in_text(text, Language.ZH, now=FETCHED) == datetime(2024, 6, 4, 8, 15, tzinfo=CST)


def test_relative_dates_need_the_fetch_time() -> None:
    assert date_in_text("3小时前", Language.ZH, now=None) is None


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        ("2023-12-15T10:30:00+08:00", Language.EN, datetime(2023, 12, 15, 2, 30, tzinfo=UTC)),
        ("2023-12-15T02:30:00Z", Language.ZH, datetime(2023, 12, 15, 2, 30, tzinfo=UTC)),
        ("2023-12-15 10:30:00", Language.ZH, datetime(2023, 12, 15, 10, 30, tzinfo=CST)),  # no zone: UTC+8
        ("2023-12-15 10:30:00", Language.EN, datetime(2023, 12, 15, 10, 30, tzinfo=UTC)),  # no zone: UTC
        ("2023-12-15T10:30:00+0800", Language.EN, datetime(2023, 12, 15, 2, 30, tzinfo=UTC)),
    ],
)
def test_timestamps(value: str, language: Language, expected: datetime) -> None:
    assert parse_timestamp(value, language) == expected


def test_json_ld_before_meta() -> None:
    tree = lxml_html.document_fromstring(
        '<html><head><script type="application/ld+json">{"@graph":[{"@type":"NewsArticle",'
        '"datePublished":"2023-11-15T03:00:00Z"}]}</script>'
        '<meta property="article:published_time" content="2023-11-16T00:00:00Z"></head><body>x</body></html>'
    )
    assert date_from_metadata(tree, Language.EN) == datetime(2023, 11, 15, 3, tzinfo=UTC)
