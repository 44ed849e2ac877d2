"""build_digest against a real SQLite store filled with the December 2023 scenario."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digests import DigestError, build_digest
from shellwatch.domain import ClaimType, IncidentStatus, Language, Stance
from tests.digests.conftest import BYTEDANCE, GEMINI, NOW, TODAY, YI, analysed, claim, fill, when


def test_headline_numbers_compare_with_the_previous_month(december_store, kb) -> None:
    digest = build_digest(december_store, kb, "2023-12", "en", today=TODAY, now=NOW)
    headline = digest.headline
    assert (headline.new_incidents.value, headline.new_incidents.previous, headline.new_incidents.change) == (
        2,
        1,
        1,
    )
    assert (headline.allegations.value, headline.allegations.previous) == (4, 1)
    assert (headline.responses.value, headline.responses.previous) == (2, 1)
    assert (headline.articles.value, headline.articles.previous, headline.articles.change) == (6, 3, 3)
    by_language = {f.key: (f.value, f.previous) for f in headline.articles_by_language}
    assert by_language == {"zh": (3, 2), "en": (3, 1)}
    assert [(f.key, f.value, f.previous) for f in headline.top_sources][:3] == [
        ("36氪", 1, 1),
        ("SCMP", 1, 0),
        ("The Verge", 1, 1),
    ]
    assert digest.complete and digest.previous_month == "2023-11"


def test_new_incidents_carry_first_allegation_and_responses(december_store, kb) -> None:
    digest = build_digest(december_store, kb, "2023-12", "en", today=TODAY, now=NOW)
    assert [i.id for i in digest.new_incidents] == [BYTEDANCE, GEMINI]  # by start
    bytedance = digest.new_incidents[0]
    assert bytedance.claim_types == [ClaimType.API_DISTILLED]
    assert bytedance.status is IncidentStatus.DISPUTED
    first = bytedance.first_allegation
    assert first is not None
    assert (first.article.source, first.article.published_at.date().isoformat()) == (
        "The Verge",
        "2023-12-15",
    )
    assert first.evidence.startswith("ByteDance has been using OpenAI's API")
    # The same denial quoted by two outlets is one response, attributed to the first.
    assert [(r.stance, r.article.source) for r in bytedance.responses] == [(Stance.DENIAL, "36氪")]
    assert [c.source for c in bytedance.coverage] == ["The Verge", "36氪", "新浪科技"]
    gemini = digest.new_incidents[1]
    assert gemini.status is IncidentStatus.ALLEGED and gemini.responses == []
    assert gemini.first_allegation is not None and gemini.first_allegation.article.language is Language.ZH


def test_ongoing_incident_shows_this_months_developments_only(december_store, kb) -> None:
    digest = build_digest(december_store, kb, "2023-12", "en", today=TODAY, now=NOW)
    (yi,) = digest.ongoing_incidents
    assert yi.id == YI
    assert [c.stance for c in yi.developments] == [Stance.ANALYSIS]
    assert [c.source for c in yi.coverage] == [
        "VentureBeat"
    ]  # November's articles are not this month's coverage
    assert yi.first_allegation is not None and yi.first_allegation.article.source == "36氪"
    # The denial came from 01.AI about its model Yi-34B: the same party, so it is the incident's response.
    assert [r.speaker for r in yi.responses] == ["零一万物"]


def test_accused_entities_and_breakdowns(december_store, kb) -> None:
    digest = build_digest(december_store, kb, "2023-12", "en", today=TODAY, now=NOW)
    assert [(e.id, e.name, e.count) for e in digest.accused_entities] == [
        ("bytedance", "ByteDance", 2),
        ("gemini", "Gemini", 2),
    ]
    assert [(b.key, b.count, b.previous) for b in digest.claims_by_type] == [
        ("api_distilled", 6, 0),
        ("llama_based", 1, 2),
    ]
    assert {b.key: b.count for b in digest.claims_by_stance} == {"allegation": 4, "denial": 2, "analysis": 1}
    weeks = {w.week.isoformat(): w.counts for w in digest.allegations_by_week}
    assert list(weeks) == ["2023-11-27", "2023-12-04", "2023-12-11", "2023-12-18", "2023-12-25"]
    assert weeks["2023-12-11"] == {"api_distilled": 2} and weeks["2023-12-04"] == {}


def test_chinese_digest_uses_chinese_names_and_titles(december_store, kb) -> None:
    digest = build_digest(december_store, kb, "2023-12", "zh", today=TODAY, now=NOW)
    bytedance = digest.new_incidents[0]
    assert bytedance.title == "字节跳动被指调用OpenAI接口训练大模型"
    assert bytedance.subject_name == "字节跳动"
    assert digest.accused_entities[0].name == "字节跳动"
    # Quotes keep the article's language.
    assert bytedance.first_allegation.evidence.startswith("ByteDance has been using")


def test_same_data_gives_the_same_digest(december_store, kb) -> None:
    first = build_digest(december_store, kb, "2023-12", "en", today=TODAY, now=NOW)
    later = build_digest(
        december_store, kb, "2023-12", "en", today=TODAY, now=datetime(2024, 3, 1, tzinfo=UTC)
    )
    assert first.generated_at != later.generated_at
    assert first.model_dump(exclude={"generated_at"}) == later.model_dump(exclude={"generated_at"})


def test_later_events_do_not_change_a_past_month(december_store, kb) -> None:
    before = build_digest(december_store, kb, "2023-12", "en", today=TODAY, now=NOW)
    admission = analysed(
        "https://www.ithome.com/0/745/001.htm",
        "IT之家",
        Language.ZH,
        "字节跳动承认曾使用GPT API",
        when("2024-01-05"),
        [
            claim(
                "bytedance",
                "字节跳动",
                ClaimType.API_DISTILLED,
                Stance.ADMISSION,
                "字节跳动承认早期曾使用GPT API生成数据。",
            )
        ],
        [BYTEDANCE],
    )
    incident = december_store.get_incident(BYTEDANCE).incident
    incident.article_ids.append(admission.id)
    incident.status = IncidentStatus.CONFIRMED
    fill(december_store, [admission], [incident])
    after = build_digest(december_store, kb, "2023-12", "en", today=TODAY, now=NOW)
    assert after.model_dump() == before.model_dump()
    january = build_digest(december_store, kb, "2024-01", "en", today=TODAY, now=NOW)
    assert january.ongoing_incidents[0].status is IncidentStatus.CONFIRMED


def test_empty_month_is_a_valid_short_digest(december_store, kb) -> None:
    digest = build_digest(december_store, kb, "2023-06", "en", today=TODAY, now=NOW)
    assert digest.empty
    assert digest.new_incidents == [] and digest.ongoing_incidents == []
    assert digest.headline.articles.value == 0


def test_running_month_is_marked_incomplete(december_store, kb) -> None:
    digest = build_digest(december_store, kb, "2024-02", "en", today=TODAY, now=NOW)
    assert not digest.complete


def test_bad_requests_raise_digest_errors(december_store, kb) -> None:
    with pytest.raises(DigestError, match="not a month"):
        build_digest(december_store, kb, "2023-13", "en", today=TODAY)
    with pytest.raises(DigestError, match="in the future"):
        build_digest(december_store, kb, "2024-05", "en", today=TODAY)
    with pytest.raises(DigestError, match="language"):
        build_digest(december_store, kb, "2023-12", "fr", today=TODAY)


def test_without_a_knowledge_base_names_come_from_the_records(december_store) -> None:
    digest = build_digest(december_store, None, "2023-12", "zh", today=TODAY, now=NOW)
    assert digest.new_incidents[0].subject_name == "ByteDance"
    assert [e.id for e in digest.accused_entities] == ["bytedance", "gemini"]
