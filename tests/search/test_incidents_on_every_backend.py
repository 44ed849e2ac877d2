"""Corroboration through the store contract on every backend (the `store` fixture of
tests/support/stores.py): a weak claim waits, a second outlet opens the incident with both articles,
found back with Store.list_articles_with_claims; the rest of incident clustering is in
test_incidents.py on SQLite."""

from __future__ import annotations

from search.backends.base import Store
from search.incidents import assign_incidents, opening_rules
from shellwatch.domain import ClaimType, IncidentStatus, Language, Stance
from tests.search.conftest import make_article, make_claim

WEAK = min(opening_rules().confident_claim, opening_rules().confident_response) / 2


def process(store: Store, kb, article):
    store.upsert_article(article)
    return assign_incidents(store, article, kb)


def test_a_second_outlet_opens_the_incident_with_the_waiting_article(store: Store, kb) -> None:
    allegation = make_article(
        "衡川智能法律大模型被指套壳",
        "衡川智能的法律大模型被指调用境外模型接口。",
        lang=Language.ZH,
        source="科技迅闻网",
        published="2024-12-03",
        url="https://a.example/hengchuan",
        claims=[make_claim(None, ClaimType.API_WRAPPER, subject_name="衡川智能", confidence=WEAK)],
    )
    known_party = make_article(
        "豆包被指蒸馏",
        "网友质疑豆包用 GPT-4 的输出训练。",
        lang=Language.ZH,
        source="36氪",
        published="2024-12-04",
        url="https://a.example/doubao",
        claims=[make_claim("doubao", ClaimType.API_DISTILLED, obj="gpt-4", confidence=WEAK)],
    )
    admission = make_article(
        "衡川智能承認調用境外模型接口",
        "衡川智能承認法律大模型公測版調用境外模型接口。",
        lang=Language.ZH,
        source="港科電訊",
        published="2024-12-06",
        url="https://b.example/hengchuan",
        claims=[
            make_claim(
                None, ClaimType.API_WRAPPER, Stance.ADMISSION, subject_name="衡川智能", confidence=WEAK
            ),
            make_claim("bytedance", ClaimType.API_DISTILLED, Stance.DENIAL, confidence=WEAK),
        ],
    )
    assert process(store, kb, allegation).incidents == []
    assert process(store, kb, known_party).incidents == []
    result = process(store, kb, admission)
    by_subject = {i.subject: i for i in store.list_incidents()}
    assert sorted(by_subject, key=str) == [None, "doubao"]
    hengchuan, bytedance = by_subject[None], by_subject["doubao"]
    assert hengchuan.article_ids == [allegation.id, admission.id]
    assert hengchuan.status is IncidentStatus.CONFIRMED
    assert hengchuan.started_at == allegation.article.published_at
    assert bytedance.article_ids == [known_party.id, admission.id]
    assert {(c.article_id, c.incident_id) for c in result.new_allegations} == {
        (allegation.id, hengchuan.id),
        (known_party.id, bytedance.id),
    }
    assert [a.id for a in store.get_incident(hengchuan.id).articles] == [allegation.id, admission.id]
    before = store.list_incidents()
    for article in (allegation, known_party, admission):
        again = process(store, kb, article)
        assert again.new_allegations == [] and again.responses == []
    assert store.list_incidents() == before
