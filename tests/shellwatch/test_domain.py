"""The domain records: vocabulary from DOMAIN.md, deterministic ids, one JSON round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shellwatch.domain import (
    Alert,
    AnalysedArticle,
    Analysis,
    Article,
    Claim,
    ClaimType,
    Incident,
    Stance,
    Subscription,
    alert_id,
    allegation_key,
    article_id,
    from_json,
    to_json,
)

BEIJING = timezone(timedelta(hours=8))


def make_claim(**changes: object) -> Claim:
    values: dict[str, object] = dict(
        subject="yi-34b",
        subject_name="Yi-34B",
        object="llama",
        object_name="Llama",
        type=ClaimType.LLAMA_BASED,
        depth=5,
        stance=Stance.ALLEGATION,
        evidence="零一万物的Yi-34B被指沿用Llama架构。",
        confidence=0.9,
    )
    values.update(changes)
    return Claim(**values)


def make_article(url: str = "https://example.cn/a/1") -> Article:
    return Article(
        url=url + "?utm_source=feed",
        canonical_url=url,
        source="example-zh",
        language="zh",
        title="Yi-34B 被指套壳 Llama",
        text="正文",
        published_at=datetime(2023, 11, 14, 10, tzinfo=BEIJING),
        fetched_at=datetime(2023, 11, 14, 3, tzinfo=UTC),
    )


def test_claim_types_and_depth_follow_the_domain() -> None:
    assert {t.value for t in ClaimType} == {
        "self_developed",
        "llama_based",
        "api_distilled",
        "api_wrapper",
        "prompt_wrapper",
        "rag_wrapper",
        "fine_tuned",
    }
    assert [
        ClaimType(t).depth
        for t in ("api_wrapper", "prompt_wrapper", "rag_wrapper", "fine_tuned", "llama_based")
    ] == [1, 2, 3, 4, 5]
    assert ClaimType.API_DISTILLED.depth is None
    assert {s.value for s in Stance} == {"allegation", "denial", "admission", "self_claim", "analysis"}


def test_article_id_is_derived_from_the_canonical_url_only() -> None:
    first, again = make_article(), make_article()
    assert first.id == again.id == article_id("https://example.cn/a/1")
    assert make_article("https://example.cn/a/2").id != first.id
    forged = Article.model_validate({**first.model_dump(), "id": "forged"})
    assert forged.id == first.id


def test_records_round_trip_through_json() -> None:
    analysed = AnalysedArticle(
        article=make_article(),
        analysis=Analysis(
            language="zh", relevant=True, relevance=0.97, claims=[make_claim()], event_dates=["2023-11-14"]
        ),
    )
    restored = from_json(AnalysedArticle, to_json(analysed))
    assert restored == analysed
    assert restored.article.published_at.utcoffset() == timedelta(hours=8)
    assert restored.analysis.claims[0].type is ClaimType.LLAMA_BASED


def test_naive_datetimes_and_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        Article(
            url="u",
            canonical_url="u",
            source="s",
            language="en",
            title="t",
            text="x",
            fetched_at=datetime(2024, 1, 1),
        )
    with pytest.raises(ValidationError):
        Claim.model_validate({**make_claim().model_dump(), "colour": "red"})
    with pytest.raises(ValidationError):
        make_claim(confidence=1.5)
    with pytest.raises(ValidationError):
        make_claim(type="vibes")


def test_allegation_and_alert_keys_identify_what_is_new() -> None:
    base = make_claim()
    reworded = make_claim(evidence="A different sentence saying the same.", confidence=0.6)
    assert allegation_key(base) == allegation_key(reworded)
    assert allegation_key(base) != allegation_key(make_claim(type=ClaimType.API_DISTILLED))
    assert alert_id("sub-1", base) == alert_id("sub-1", reworded) != alert_id("sub-2", base)


def test_incident_depth_is_the_shallowest_wrapping() -> None:
    moment = datetime(2023, 11, 14, tzinfo=UTC)
    incident = Incident(
        id="i1",
        subject="yi-34b",
        subject_name="Yi-34B",
        claim_types=[ClaimType.LLAMA_BASED, ClaimType.API_WRAPPER, ClaimType.API_DISTILLED],
        title_en="Yi-34B accused",
        title_zh="Yi-34B 被指",
        started_at=moment,
        updated_at=moment,
    )
    assert incident.depth == 1
    assert Incident.model_validate_json(to_json(incident)) == incident


def test_subscription_defaults_to_allegations_and_alert_serialises() -> None:
    subscription = Subscription(id="s", name="all", created_at=datetime(2024, 1, 1, tzinfo=UTC))
    assert subscription.stances == [Stance.ALLEGATION]
    alert = Alert(
        id=alert_id("s", make_claim()),
        subscription_id="s",
        incident_id=None,
        article_id="a",
        claim=make_claim(),
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert from_json(Alert, to_json(alert)) == alert
