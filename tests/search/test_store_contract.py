"""The store contract (search/backends/base.py), one suite run against every backend.

The `store` fixture (tests/support/stores.py) gives the legs: `sqlite` always; `elasticsearch` when
ELASTICSEARCH_URL points at a real Elasticsearch 9 (`docker compose up elasticsearch`, then
ELASTICSEARCH_URL=http://127.0.0.1:9200), skipped with the reason otherwise;
`elasticsearch-emulator` against noida-db from PyPI (an emulator answering as 8.15: it runs the
real client and request bodies, skips what it cannot do with the reason, and proves nothing about
real Elasticsearch).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime

import pytest

from search.backends.base import QueryError, Store
from search.results import DeadLetter, DeliveredAlert
from shellwatch.domain import (
    Alert,
    AnalysedArticle,
    ClaimType,
    Incident,
    IncidentStatus,
    Language,
    Stance,
    Subscription,
    alert_id,
)
from tests.search.conftest import make_article, make_claim


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


# A small bilingual corpus: the Yi-34B controversy (zh + en + a denial), ERNIE Bot distillation.
def yi_zh() -> AnalysedArticle:
    return make_article(
        "零一萬物 Yi-34B 被指套殼 Llama",
        "網友發現 Yi-34B 的張量名稱與 Llama 相同，零一萬物被質疑套殼。",
        lang=Language.ZH,
        source="明報",
        published="2023-11-14",
        url="https://zh.example/yi",
        claims=[make_claim("yi-34b", obj="llama")],
        mentions=["yi-34b", "01-ai", "llama"],
    )


def yi_en() -> AnalysedArticle:
    return make_article(
        "01.AI's Yi-34B accused of being based on Llama",
        "Researchers found that Yi-34B renamed tensors from Meta's Llama. The startup was accused of wrapping it.",
        source="TechCrunch",
        published="2023-11-15",
        url="https://en.example/yi",
        claims=[make_claim("yi-34b", obj="llama")],
        mentions=["yi-34b", "llama"],
    )


def yi_denial() -> AnalysedArticle:
    return make_article(
        "01.AI responds to <Llama> claims",
        "The company denied wrongdoing and said the renamed tensors were an oversight.",
        source="The Verge",
        published="2023-11-16",
        url="https://en.example/yi-denial",
        claims=[make_claim("01-ai", stance=Stance.DENIAL)],
        mentions=["01-ai"],
    )


def ernie_zh() -> AnalysedArticle:
    return make_article(
        "文心一言被指蒸馏 GPT-4",
        "有研究者认为文心一言用 GPT-4 生成的数据训练，疑似蒸馏。",
        lang=Language.ZH,
        source="量子位",
        published="2023-12-04",
        url="https://zh.example/ernie",
        claims=[make_claim("ernie-bot", ClaimType.API_DISTILLED, obj="gpt-4", confidence=0.6)],
    )


def wrapper_en() -> AnalysedArticle:
    return make_article(
        "Startup's chatbot is a thin wrapper around the OpenAI API",
        "Analysts say the product only forwards requests to OpenAI.",
        source="VentureBeat",
        published="2024-02-01",
        url="https://en.example/wrapper",
        claims=[make_claim(None, ClaimType.API_WRAPPER, subject_name="FooChat", obj="openai")],
        mentions=["openai"],
    )


CORPUS = [yi_zh, yi_en, yi_denial, ernie_zh, wrapper_en]


@pytest.fixture
def corpus(store: Store) -> dict[str, AnalysedArticle]:
    articles = {make.__name__: make() for make in CORPUS}
    for article in articles.values():
        store.upsert_article(article)
    return articles


def yi_incident(articles: dict[str, AnalysedArticle]) -> Incident:
    return Incident(
        id="inc-yi",
        subject="yi-34b",
        subject_name="Yi-34B",
        claim_types=[ClaimType.LLAMA_BASED],
        status=IncidentStatus.DISPUTED,
        title_en="Yi-34B accused of being based on Llama",
        title_zh="Yi-34B 被指基于 Llama",
        started_at=at("2023-11-14"),
        updated_at=at("2023-11-16"),
        article_ids=[articles["yi_en"].id, articles["yi_zh"].id, articles["yi_denial"].id],
    )


def ernie_incident(articles: dict[str, AnalysedArticle]) -> Incident:
    return Incident(
        id="inc-ernie",
        subject="ernie-bot",
        subject_name="ERNIE Bot",
        claim_types=[ClaimType.API_DISTILLED],
        title_en="ERNIE Bot accused of distilling GPT-4",
        title_zh="文心一言 被指蒸馏 GPT-4",
        started_at=at("2023-12-04"),
        updated_at=at("2023-12-04"),
        article_ids=[articles["ernie_zh"].id],
    )


def ids(result) -> set[str]:
    return {hit.article.id for hit in result.hits}


# Articles ---------------------------------------------------------------------------------------


def test_upsert_article_reports_new_then_replaces(store: Store) -> None:
    article = yi_en()
    assert store.upsert_article(article) is True
    changed = article.model_copy(
        update={"article": article.article.model_copy(update={"title": "Updated title"})}
    )
    assert store.upsert_article(changed) is False
    assert store.count_articles() == 1
    stored = store.get_article(article.id)
    assert stored is not None and stored.article.title == "Updated title"
    assert stored.analysis == article.analysis
    assert store.search("updated").total == 1
    assert store.search('"based on Llama"').total == 0  # the old text is gone from the index
    assert store.get_article("no-such-id") is None


def test_iter_articles_oldest_first_and_since(store: Store, corpus) -> None:
    every = [a.id for a in store.iter_articles()]
    assert every == [corpus[n].id for n in ("yi_zh", "yi_en", "yi_denial", "ernie_zh", "wrapper_en")]
    assert [a.id for a in store.iter_articles(since=at("2023-12-01"))] == [
        corpus["ernie_zh"].id,
        corpus["wrapper_en"].id,
    ]
    assert store.count_articles() == 5


# Incidents --------------------------------------------------------------------------------------


def test_incident_roundtrip_with_coverage_in_publication_order(store: Store, corpus) -> None:
    incident = yi_incident(corpus)
    store.upsert_incident(incident)
    detail = store.get_incident("inc-yi")
    assert detail is not None and detail.incident == incident
    assert [a.id for a in detail.articles] == [corpus[n].id for n in ("yi_zh", "yi_en", "yi_denial")]
    assert {a.article.language for a in detail.articles} == {Language.ZH, Language.EN}
    assert all(a.incident_ids == ["inc-yi"] for a in detail.articles)
    assert store.get_article(corpus["yi_en"].id).incident_ids == ["inc-yi"]
    assert store.get_incident("missing") is None


def test_list_incidents_by_subject_company_includes_models_and_by_period(store: Store, corpus) -> None:
    store.upsert_incident(yi_incident(corpus))
    store.upsert_incident(ernie_incident(corpus))
    assert [i.id for i in store.list_incidents()] == ["inc-yi", "inc-ernie"]
    assert [i.id for i in store.list_incidents(subject="01-ai")] == ["inc-yi"]
    assert [i.id for i in store.list_incidents(subject="零一萬物")] == ["inc-yi"]
    assert [i.id for i in store.list_incidents(subject="baidu")] == ["inc-ernie"]
    assert [i.id for i in store.list_incidents(since=at("2023-12-01"))] == ["inc-ernie"]
    assert [i.id for i in store.list_incidents(until=at("2023-12-01"))] == ["inc-yi"]
    assert store.list_incidents(subject="bytedance") == []


def test_delete_incident_tolerates_missing(store: Store, corpus) -> None:
    store.upsert_incident(yi_incident(corpus))
    store.delete_incident("inc-yi")
    store.delete_incident("inc-yi")
    assert store.get_incident("inc-yi") is None
    assert store.get_article(corpus["yi_en"].id).incident_ids == []


def test_list_articles_with_claims_by_party_stance_and_period(store: Store, corpus) -> None:
    opening = [Stance.ALLEGATION, Stance.DENIAL, Stance.ADMISSION]
    since, until = at("2023-08-01"), at("2024-03-01")
    store.upsert_incident(ernie_incident(corpus))

    def found(subject: str | None, stances=opening, start=since, end=until, **options) -> list[str]:
        return [a.id for a in store.list_articles_with_claims(subject, stances, start, end, **options)]

    yi = [corpus[n].id for n in ("yi_zh", "yi_en", "yi_denial")]
    assert found("01-ai") == yi  # oldest first; the company's claims and its model's
    assert found("yi-34b") == yi[:2]  # a model alone: not its company's denial
    assert found("01-ai", [Stance.DENIAL]) == yi[2:]
    assert found("01-ai", [Stance.SELF_CLAIM]) == []
    assert found("01-ai", start=at("2023-11-15"), end=at("2023-11-16")) == [yi[1]]  # [since, until)
    assert found("01-ai", exclude_ids=[yi[0], "unknown-id"]) == yi[1:]
    assert found("01-ai", limit=1) == yi[:1]
    assert found("bytedance") == []
    (ernie,) = store.list_articles_with_claims("baidu", opening, since, until)
    assert ernie.id == corpus["ernie_zh"].id and ernie.incident_ids == ["inc-ernie"]
    # A party the knowledge base does not know: a claim without subject, the name in the article.
    aster = make_article(
        "Aster-13B is a wrapper, developers say",
        "Developers say Aster-13B forwards every request to another vendor's API.",
        published="2024-01-05",
        url="https://en.example/aster",
        claims=[make_claim(None, ClaimType.API_WRAPPER, subject_name="Aster-13B")],
    )
    hengchuan = make_article(
        "衡川智能法律大模型被指套壳",
        "衡川智能的法律大模型被指调用境外模型接口。",
        lang=Language.ZH,
        source="科技迅闻网",
        published="2024-01-10",
        url="https://zh.example/hengchuan",
        claims=[make_claim(None, ClaimType.API_WRAPPER, subject_name="衡川智能")],
    )
    store.upsert_article(aster)
    store.upsert_article(hengchuan)
    assert found(None, name="Aster-13B") == [aster.id]
    assert found(None, name="aster 13b") == [aster.id]
    assert found(None, name="Aster-7B") == []
    assert found("01-ai", name="Aster-13B") == yi  # a known party is found by its claims' subject
    assert found(None, name="衡川智能") == [hengchuan.id]
    assert found(None, name="衡川") == [hengchuan.id]  # a phrase of the name's words, as search does
    assert found(None, name="智能衡川") == []


# Search -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["零一萬物", "零一万物", "01.AI", "01AI", "entity:零一萬物", "entity:01-ai", 'entity:"Lingyi Wanwu"'],
)
def test_any_name_in_any_script_finds_the_same_coverage(store: Store, corpus, name: str) -> None:
    expected = {corpus[n].id for n in ("yi_zh", "yi_en", "yi_denial")}
    assert ids(store.search(name)) == expected


def test_company_entity_finds_coverage_of_its_models(store: Store, corpus) -> None:
    assert ids(store.search("entity:baidu")) == {corpus["ernie_zh"].id}
    assert ids(store.search("entity:百度")) == {corpus["ernie_zh"].id}


def test_english_is_stemmed_and_chinese_bigrams_match_across_scripts(store: Store, corpus) -> None:
    assert corpus["yi_en"].id in ids(store.search("accusing"))
    assert ids(store.search("套壳")) == {corpus["yi_zh"].id}  # indexed as traditional 套殼
    assert ids(store.search("蒸餾")) == {corpus["ernie_zh"].id}
    assert ids(store.search("張量名稱")) == {corpus["yi_zh"].id}


def test_possessives_and_diacritics_match_the_plain_word(store: Store) -> None:
    straight = make_article("OpenAI's new model", "text", url="https://en.example/straight")
    curly = make_article("Zhipu says OpenAI’s claims are wrong", "text", url="https://en.example/curly")
    accented = make_article("A wrapper made at Café Müller", "text", url="https://en.example/cafe")
    for article in (straight, curly, accented):
        store.upsert_article(article)
    assert ids(store.search("openai")) == {straight.id, curly.id}
    assert ids(store.search('"says openai"')) == {curly.id}
    assert ids(store.search("cafe muller")) == {accented.id}
    assert ids(store.search("Müller")) == {accented.id}


def test_phrases_and_boolean_operators(store: Store, corpus) -> None:
    assert ids(store.search('"renamed tensors"')) == {corpus["yi_en"].id, corpus["yi_denial"].id}
    assert ids(store.search('"tensors renamed"')) == set()
    assert ids(store.search("llama NOT denied")) == {corpus["yi_zh"].id, corpus["yi_en"].id}
    assert ids(store.search("蒸馏 OR wrapper")) == {corpus["ernie_zh"].id, corpus["wrapper_en"].id}
    assert ids(store.search("(蒸馏 OR wrapper) AND analysts")) == {corpus["wrapper_en"].id}
    assert ids(store.search("(蒸馏 OR wrapper) AND entity:openai")) == {
        corpus["ernie_zh"].id,
        corpus["wrapper_en"].id,
    }
    assert corpus["yi_en"].id not in ids(store.search("NOT llama"))
    assert ids(store.search("entity:baidu OR denied")) == {corpus["ernie_zh"].id, corpus["yi_denial"].id}


def test_claim_filters_apply_to_one_claim(store: Store, corpus) -> None:
    assert ids(store.search("type:llama_based stance:denial")) == {corpus["yi_denial"].id}
    assert ids(store.search("type:api_distilled")) == {corpus["ernie_zh"].id}
    assert ids(store.search("depth:<=2")) == {corpus["wrapper_en"].id}
    assert ids(store.search("depth:5 lang:zh")) == {corpus["yi_zh"].id}
    assert ids(store.search("depth:2..4")) == set()
    assert ids(store.search("stance:allegation -type:llama_based")) == {
        corpus["ernie_zh"].id,
        corpus["wrapper_en"].id,
    }


def test_language_source_and_date_filters(store: Store, corpus) -> None:
    assert ids(store.search("lang:zh")) == {corpus["yi_zh"].id, corpus["ernie_zh"].id}
    assert ids(store.search("source:techcrunch")) == {corpus["yi_en"].id}
    assert ids(store.search('source:"The Verge"')) == {corpus["yi_denial"].id}
    assert ids(store.search("from:2023-11-15 to:2023-11")) == {corpus["yi_en"].id, corpus["yi_denial"].id}
    assert ids(store.search("llama to:2023-11-14")) == {corpus["yi_zh"].id}
    assert ids(store.search("from:2024")) == {corpus["wrapper_en"].id}


def test_empty_query_lists_newest_first_with_paging_and_total(store: Store, corpus) -> None:
    first = store.search("", limit=2)
    assert first.total == 5
    assert [h.article.id for h in first.hits] == [corpus["wrapper_en"].id, corpus["ernie_zh"].id]
    second = store.search("", offset=2, limit=2)
    assert [h.article.id for h in second.hits] == [corpus["yi_denial"].id, corpus["yi_en"].id]


def test_total_is_exact_up_to_the_tracked_count_then_a_lower_bound(store: Store, corpus) -> None:
    exact = store.search("", limit=2)
    assert (exact.total, exact.total_relation, exact.total_display) == (5, "eq", "5")
    for query, matches in (("", 5), ("llama", 3), ("stance:allegation", 4), ("llama lang:en", 2)):
        bounded = store.search(query, limit=10, track_total_hits=matches - 1)
        assert (bounded.total, bounded.total_relation) == (matches - 1, "gte"), query
        assert bounded.total_display == f"{matches - 1}+"
        assert len(bounded.hits) == matches  # the hits themselves are not cut
        assert store.search(query, track_total_hits=matches).total_relation == "eq"
    newest = store.search("", limit=2, track_total_hits=2)
    assert [h.article.id for h in newest.hits] == [corpus["wrapper_en"].id, corpus["ernie_zh"].id]


def test_ranking_prefers_title_matches(store: Store, corpus) -> None:
    result = store.search("wrapper")
    assert result.hits[0].article.id == corpus["wrapper_en"].id
    assert result.hits[0].score > 0


def test_highlights_mark_matches_and_escape_the_rest(store: Store, corpus) -> None:
    result = store.search("llama 零一万物")
    by_id = {h.article.id: h for h in result.hits}
    zh = by_id[corpus["yi_zh"].id].highlights
    assert "<mark>零一萬物</mark>" in zh["title"][0] and "<mark>Llama</mark>" in zh["title"][0]
    denial = by_id[corpus["yi_denial"].id].highlights
    assert denial["title"] == ["01.AI responds to &lt;<mark>Llama</mark>&gt; claims"]
    for hit in result.hits:
        for snippets in hit.highlights.values():
            for snippet in snippets:
                stripped = snippet.replace("<mark>", "").replace("</mark>", "")
                assert "<" not in stripped and ">" not in stripped
                assert html.unescape(stripped).replace("…", "") in (
                    hit.article.article.title + hit.article.article.text
                )
    en = by_id[corpus["yi_en"].id].highlights
    assert re.search(r"<mark>Llama</mark>", en["text"][0])


def test_facets_count_the_matching_set(store: Store, corpus) -> None:
    facets = store.search("").facets
    as_dict = {name: {f.value: f.count for f in values} for name, values in facets.items()}
    assert as_dict["lang"] == {"en": 3, "zh": 2}
    assert as_dict["type"] == {"llama_based": 3, "api_distilled": 1, "api_wrapper": 1}
    assert as_dict["stance"] == {"allegation": 4, "denial": 1}
    assert as_dict["depth"] == {"5": 3, "1": 1}
    assert as_dict["month"] == {"2023-11": 3, "2023-12": 1, "2024-02": 1}
    assert as_dict["entity"]["01-ai"] == 3  # the model's developer counts too
    assert {f.value: f.label for f in facets["entity"]}["01-ai"] == "01.AI"
    assert as_dict["source"]["TechCrunch"] == 1
    narrowed = {f.value: f.count for f in store.search("lang:zh").facets["type"]}
    assert narrowed == {"llama_based": 1, "api_distilled": 1}
    assert store.search("lang:zh", facets=False).facets == {}


@pytest.mark.parametrize(
    ("query", "position"),
    [
        ("llama AND", 6),
        ("(llama OR gpt", 0),
        ("llama)", 5),
        ('"renamed tensors', 0),
        ("type:distilled", 5),
        ("stance:maybe", 7),
        ("depth:<=9", 8),
        ("lang:fr", 5),
        ("from:yesterday", 5),
        ("colour:red", 0),
    ],
)
def test_malformed_queries_raise_query_error_with_position(store: Store, query: str, position: int) -> None:
    with pytest.raises(QueryError) as info:
        store.search(query)
    assert info.value.position == position
    assert str(info.value)


# Timeline ---------------------------------------------------------------------------------------


def test_timeline_orders_incidents_and_histograms_coverage(store: Store, corpus) -> None:
    store.upsert_incident(ernie_incident(corpus))
    store.upsert_incident(yi_incident(corpus))
    timeline = store.timeline()
    assert [i.id for i in timeline.incidents] == ["inc-yi", "inc-ernie"]
    assert [(b.date, b.count) for b in timeline.histogram] == [(date(2023, 11, 1), 3), (date(2023, 12, 1), 1)]
    weekly = store.timeline(interval="week")
    assert [(b.date, b.count) for b in weekly.histogram] == [(date(2023, 11, 13), 3), (date(2023, 12, 4), 1)]
    assert weekly.interval == "week"
    assert [b.date for b in store.timeline(interval="day").histogram][0] == date(2023, 11, 14)
    assert [b.date for b in store.timeline(interval="year").histogram] == [date(2023, 1, 1)]


def test_timeline_by_entity_in_any_script_and_by_query(store: Store, corpus) -> None:
    store.upsert_incident(yi_incident(corpus))
    store.upsert_incident(ernie_incident(corpus))
    for name in ("零一萬物", "01.AI", "01-ai", "Yi-34B"):
        assert [i.id for i in store.timeline(entity=name).incidents] == ["inc-yi"]
    assert [i.id for i in store.timeline(entity="Baidu").incidents] == ["inc-ernie"]
    by_query = store.timeline("denied")
    assert [i.id for i in by_query.incidents] == ["inc-yi"]
    assert [(b.date, b.count) for b in by_query.histogram] == [(date(2023, 11, 1), 1)]
    assert store.timeline("type:api_distilled").incidents[0].id == "inc-ernie"
    with pytest.raises(QueryError):
        store.timeline("llama OR")
    with pytest.raises(QueryError):
        store.timeline(interval="fortnight")


# Month aggregates -------------------------------------------------------------------------------


def test_month_aggregates_for_a_digest(store: Store, corpus) -> None:
    store.upsert_incident(yi_incident(corpus))
    store.upsert_incident(ernie_incident(corpus))
    november = store.month_aggregates(date(2023, 11, 1), date(2023, 12, 1))
    assert november.articles == 3
    assert november.articles_by_language == {"zh": 1, "en": 2}
    assert november.articles_by_source == {"明報": 1, "TechCrunch": 1, "The Verge": 1}
    assert (november.allegations, november.responses) == (2, 1)
    assert november.claims_by_type == {"llama_based": 3}
    assert november.claims_by_stance == {"allegation": 2, "denial": 1}
    assert november.allegations_by_week_and_type == {"2023-11-13": {"llama_based": 2}}
    assert november.accused_entities == [("yi-34b", 2)]
    assert (november.new_incident_ids, november.ongoing_incident_ids) == (["inc-yi"], [])
    december = store.month_aggregates(date(2023, 12, 1), date(2024, 1, 1))
    assert december.new_incident_ids == ["inc-ernie"]
    assert december.accused_entities == [("ernie-bot", 1)]
    late = yi_en().model_copy(deep=True)
    late.article.canonical_url = "https://en.example/yi-followup"
    late.article.published_at = at("2023-12-20")
    late = late.model_validate(late.model_dump())
    store.upsert_article(late)
    store.upsert_incident(
        yi_incident(corpus).model_copy(update={"article_ids": [corpus["yi_en"].id, late.id]})
    )
    assert store.month_aggregates(date(2023, 12, 1), date(2024, 1, 1)).ongoing_incident_ids == ["inc-yi"]


# Subscriptions and percolation ------------------------------------------------------------------


def subscription(sub_id: str, **fields) -> Subscription:
    return Subscription(id=sub_id, name=sub_id, created_at=at("2023-01-01"), **fields)


def test_subscription_crud(store: Store) -> None:
    first = subscription("s1", entities=["baidu"], query="蒸馏")
    store.save_subscription(first)
    store.save_subscription(subscription("s2"))
    assert store.get_subscription("s1") == first
    assert {s.id for s in store.list_subscriptions()} == {"s1", "s2"}
    store.save_subscription(first.model_copy(update={"name": "renamed"}))
    assert store.get_subscription("s1").name == "renamed"
    store.delete_subscription("s1")
    store.delete_subscription("s1")
    assert store.get_subscription("s1") is None
    with pytest.raises(QueryError):
        store.save_subscription(subscription("bad", query="llama AND"))


def test_match_subscriptions_filters_and_queries(store: Store) -> None:
    subscriptions = [
        subscription("baidu", entities=["baidu"]),  # company → its model ERNIE Bot
        subscription("bytedance", entities=["bytedance"]),
        subscription("distilled", claim_types=[ClaimType.API_DISTILLED]),
        subscription("shallow", max_depth=2),
        subscription("denials", stances=[Stance.DENIAL]),
        subscription("english", languages=[Language.EN]),
        subscription("confident", min_confidence=0.8),
        subscription("paused", paused=True),
        subscription("query-trad", query="蒸餾 OR 套殼"),
        subscription("query-en", query="llama"),
        subscription("query-filter", query="entity:百度 lang:zh"),
        subscription("everything"),
    ]
    for sub in subscriptions:
        store.save_subscription(sub)
    matched = {s.id for s in store.match_subscriptions(ernie_zh())}
    assert matched == {"baidu", "distilled", "query-trad", "query-filter", "everything"}
    matched_en = {s.id for s in store.match_subscriptions(yi_en())}
    assert matched_en == {"english", "confident", "query-en", "everything"}
    assert {s.id for s in store.match_subscriptions(yi_denial())} == {"denials"}
    assert {s.id for s in store.match_subscriptions(wrapper_en())} == {
        "shallow",
        "english",
        "confident",
        "everything",
    }
    assert store.count_articles() == 0  # percolating stores nothing


# Alerts, deliveries, dead letters ----------------------------------------------------------------


def make_alert(sub_id: str, claim_subject: str, when: str) -> Alert:
    claim = make_claim(claim_subject)
    return Alert(
        id=alert_id(sub_id, claim),
        subscription_id=sub_id,
        incident_id="inc",
        article_id="a1",
        claim=claim,
        created_at=at(when),
    )


def test_record_alert_is_exactly_once(store: Store) -> None:
    first = make_alert("s1", "yi-34b", "2023-11-14")
    assert store.record_alert(first) is True
    assert store.record_alert(first) is False
    assert store.record_alert(first.model_copy(update={"created_at": at("2023-11-20")})) is False
    second = make_alert("s1", "doubao", "2023-11-15")
    other = make_alert("s2", "yi-34b", "2023-11-16")
    assert store.record_alert(second) and store.record_alert(other)
    assert [a.id for a in store.list_alerts()] == [other.id, second.id, first.id]
    assert [a.id for a in store.list_alerts("s1")] == [second.id, first.id]
    assert [a.id for a in store.list_alerts(limit=1)] == [other.id]
    assert store.list_alerts()[2] == first


def test_delivery_states_upsert_by_alert_and_channel(store: Store) -> None:
    alert = make_alert("s1", "yi-34b", "2023-11-14")
    other = make_alert("s2", "doubao", "2023-11-15")
    store.record_delivery(DeliveredAlert(alert=alert, channel="webhook", attempts=1, last_error="HTTP 503"))
    store.record_delivery(DeliveredAlert(alert=alert, channel="email"))
    store.record_delivery(DeliveredAlert(alert=other, channel="webhook"))
    assert len(store.list_deliveries()) == 3
    done = DeliveredAlert(alert=alert, channel="webhook", attempts=2, delivered_at=at("2023-11-14T01:00:00"))
    store.record_delivery(done)
    deliveries = store.list_deliveries()
    assert len(deliveries) == 3 and deliveries[0] == done
    assert {(d.alert.id, d.channel) for d in store.list_deliveries(pending_only=True)} == {
        (alert.id, "email"),
        (other.id, "webhook"),
    }
    assert {d.channel for d in store.list_deliveries(subscription_id="s1")} == {"webhook", "email"}
    assert [d.channel for d in store.list_deliveries(subscription_id="s1", pending_only=True)] == ["email"]


def test_dead_letters(store: Store) -> None:
    letter = DeadLetter(
        id="d1",
        task="analyse",
        payload='{"id": "x"}',
        error="ValueError: bad",
        traceback="tb",
        attempts=3,
        failed_at=at("2023-11-14"),
    )
    store.add_dead_letter(letter)
    store.add_dead_letter(letter.model_copy(update={"id": "d2", "failed_at": at("2023-11-15")}))
    store.add_dead_letter(letter.model_copy(update={"attempts": 4}))
    letters = store.list_dead_letters()
    assert [d.id for d in letters] == ["d2", "d1"] and letters[1].attempts == 4
    store.delete_dead_letter("d1")
    store.delete_dead_letter("d1")
    assert [d.id for d in store.list_dead_letters()] == ["d2"]


# Reindex ----------------------------------------------------------------------------------------


def test_reindex_rebuilds_and_keeps_serving(store: Store, corpus) -> None:
    store.upsert_incident(yi_incident(corpus))
    before = ids(store.search("零一万物"))
    seen: list[int] = []
    assert store.reindex(progress=seen.append) == 5
    assert seen and seen[-1] == 5
    assert ids(store.search("零一万物")) == before
    assert ids(store.search("type:llama_based stance:denial")) == {corpus["yi_denial"].id}
    assert store.count_articles() == 5
    assert store.get_incident("inc-yi") is not None
    store.upsert_article(ernie_zh())
    assert store.count_articles() == 5


def test_bulk_upsert_reports_bad_documents_and_indexes_the_rest(store: Store) -> None:
    good = [yi_zh(), yi_en()]
    broken = ernie_zh()
    # An article whose analysis cannot be indexed: a claim type no backend knows.
    broken.analysis.claims[0].__dict__["type"] = "no-such-type"
    result = store.upsert_articles([*good, broken])
    assert result.indexed == 2 and result.new == 2
    assert list(result.failures) == [broken.id] and result.failures[broken.id]
    assert store.count_articles() == 2
    again = store.upsert_articles(good)
    assert (again.indexed, again.new, again.failures) == (2, 0, {})


# API tokens and corrections (the web stage's records) ---------------------------------------------


def test_api_tokens_upsert_and_list_oldest_first(store: Store) -> None:
    from search.backends.admin import ApiToken, TokenScope

    first = ApiToken(
        id="tok1", name="ci", scope=TokenScope.READ, salt="s", digest="d", created_at=at("2023-11-01")
    )
    second = first.model_copy(
        update={"id": "tok2", "scope": TokenScope.WRITE, "created_at": at("2023-11-02")}
    )
    store.save_api_token(second)
    store.save_api_token(first)
    assert store.get_api_token("tok1") == first and store.get_api_token("missing") is None
    revoked = first.model_copy(update={"revoked_at": at("2023-12-01")})
    store.save_api_token(revoked)
    assert store.list_api_tokens() == [revoked, second]


def test_corrections_per_article_in_the_order_made(store: Store) -> None:
    from search.backends.admin import Correction

    before = make_claim("yi-34b")
    early = Correction(
        id="c1",
        article_id="a1",
        claim_key="k",
        stance=Stance.DENIAL,
        before=before,
        created_at=at("2023-11-01"),
    )
    late = early.model_copy(update={"id": "c2", "dismissed": True, "created_at": at("2023-11-03")})
    other = early.model_copy(update={"id": "c3", "article_id": "a2", "created_at": at("2023-11-02")})
    for correction in (late, other, early):
        store.save_correction(correction)
    assert [c.id for c in store.list_corrections()] == ["c1", "c3", "c2"]
    assert [c.id for c in store.list_corrections("a1")] == ["c1", "c2"]
    store.save_correction(early.model_copy(update={"note": "checked"}))
    assert store.list_corrections("a1")[0].note == "checked"
    assert store.list_corrections("nothing") == []


# Coordination -----------------------------------------------------------------------------------


def test_incident_lock_is_exclusive_until_released(store: Store) -> None:
    import threading
    import time

    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with store.incident_lock("01-ai"):
            held.set()
            release.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(5)
    threading.Timer(0.4, release.set).start()
    started = time.monotonic()
    with store.incident_lock("01-ai"):
        waited = time.monotonic() - started
    thread.join(5)
    assert waited >= 0.3
    with store.incident_lock("01-ai"):  # released again
        pass
