"""Sentence splitting, language detection and event dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

from nlp.dates import event_dates
from nlp.text import detect_language, sentence_spans
from shellwatch.domain import Language

PUBLISHED = datetime(2023, 11, 20, 8, 0, tzinfo=UTC)


def sentences(text):
    return [text[s:e] for s, e in sentence_spans(text)]


def test_sentences_in_both_languages():
    assert sentences(
        "零一万物回应称：“并非套壳。”随后李开复发文。Mr. Lee said so. The U.S. firm agreed!"
    ) == [
        "零一万物回应称：“并非套壳。”",
        "随后李开复发文。",
        "Mr. Lee said so.",
        "The U.S. firm agreed!",
    ]


def test_language_detection():
    assert detect_language("零一万物的Yi-34B基于Llama") is Language.ZH
    assert detect_language("Yi-34B is based on Llama, 零一万物 said") is Language.EN
    assert detect_language("😀 !!!", hint="zh") is Language.ZH


def test_absolute_dates():
    text = "2023年11月14日，有开发者发文。2023年12月 and on Nov 15, 2023 and 16 November 2023, 2023-11-17."
    assert event_dates(text) == ["2023-11-14", "2023-12", "2023-11-15", "2023-11-16", "2023-11-17"]


def test_relative_dates_resolve_against_the_publication_date():
    text = "上周有网友发现；昨天公司回应。Last week researchers posted it; 3 days ago the firm replied; 11月14日。"
    assert event_dates(text, PUBLISHED) == ["2023-11-13", "2023-11-19", "2023-11-17", "2023-11-14"]
    assert event_dates(text, date(2023, 11, 20)) == event_dates(text, PUBLISHED)
    assert event_dates("上周有网友发现") == []  # no publication date: nothing to resolve against


def test_impossible_dates_are_skipped():
    assert event_dates("2023年2月30日 and 2023年13月") == []
