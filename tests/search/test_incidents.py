"""Incident clustering on a real SQLite store: languages, time, stances, idempotence, merging, and
when claims are evidence enough to open an incident (corroboration)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.dispatch import plan_alerts
from search.backends.sqlite import SqliteStore
from search.incidents import assign_incidents, incident_title, merge_incidents, opening_rules
from shellwatch.domain import ClaimType, IncidentStatus, Language, Stance, Subscription, allegation_key
from tests.search.conftest import make_article, make_claim

# Confidences below and above the opening thresholds of search/data/incident_opening.yaml.
WEAK = min(opening_rules().confident_claim, opening_rules().confident_response) / 2
FAIR = (opening_rules().confident_response + opening_rules().confident_claim) / 2  # enough for the accused
SURE = 1.0


@pytest.fixture
def store(tmp_path, kb):
    with SqliteStore(tmp_path / "store.sqlite3", kb=kb) as opened:
        yield opened


def process(store, kb, article):
    store.upsert_article(article)
    return assign_incidents(store, article, kb)


def yi_zh(published="2023-11-14", url="https://zh.example/yi"):
    return make_article(
        "零一萬物被指套殼 Llama",
        "網友發現 Yi-34B 的張量名稱與 Llama 相同。",
        lang=Language.ZH,
        source="明報",
        published=published,
        url=url,
        claims=[make_claim("yi-34b", obj="llama")],
    )


def yi_en(published="2023-11-15", url="https://en.example/yi"):
    return make_article(
        "01.AI's Yi-34B accused of being based on Llama",
        "Researchers found renamed tensors.",
        published=published,
        url=url,
        claims=[make_claim("yi-34b", obj="llama")],
    )


def test_chinese_and_english_coverage_of_one_controversy_is_one_incident(store, kb) -> None:
    first = process(store, kb, yi_zh())
    second = process(store, kb, yi_en())
    assert len(first.incidents) == 1 and len(second.incidents) == 1
    assert first.incidents[0].id == second.incidents[0].id
    (incident,) = store.list_incidents()
    assert set(incident.article_ids) == {yi_zh().id, yi_en().id}
    assert incident.title_en == "Yi-34B accused of being based on Llama"
    assert incident.title_zh == "Yi-34B 被指基于 Llama"
    assert incident.status is IncidentStatus.ALLEGED
    assert [c.claim.subject for c in first.new_allegations] == ["yi-34b"]
    assert second.new_allegations == []  # the same allegation (who, type, from what) reported again


def test_a_company_claim_joins_the_incident_about_its_model(store, kb) -> None:
    process(store, kb, yi_en())
    about_company = make_article(
        "零一万物被质疑",
        "零一万物被指基于 Llama。",
        lang=Language.ZH,
        published="2023-11-20",
        claims=[make_claim("01-ai", obj="llama")],
    )
    result = process(store, kb, about_company)
    assert len(store.list_incidents()) == 1
    assert len(result.new_allegations) == 1  # a new allegation key (subject 01-ai), same incident


def test_same_company_months_later_is_a_new_incident(store, kb) -> None:
    process(store, kb, yi_en())
    later = process(store, kb, yi_zh(published="2024-05-20", url="https://zh.example/yi-again"))
    incidents = store.list_incidents()
    assert len(incidents) == 2
    assert later.incidents[0].id == incidents[1].id
    assert [c.claim.type for c in later.new_allegations] == [ClaimType.LLAMA_BASED]


def test_a_different_claim_type_about_the_same_company_is_a_different_incident(store, kb) -> None:
    process(store, kb, yi_en())
    distilled = make_article(
        "Yi accused of training on GPT-4 outputs",
        "Imitation data.",
        published="2023-11-20",
        claims=[make_claim("yi-34b", ClaimType.API_DISTILLED, obj="gpt-4")],
    )
    process(store, kb, distilled)
    assert len(store.list_incidents()) == 2


def test_a_similar_story_with_another_type_joins_by_text_similarity(store, kb) -> None:
    process(store, kb, yi_en())
    similar = make_article(
        "01.AI's Yi-34B accused of being based on Llama weights",
        "Fine-tuned, says a researcher.",
        published="2023-11-18",
        claims=[make_claim("yi-34b", ClaimType.FINE_TUNED, obj="llama")],
    )
    process(store, kb, similar)
    (incident,) = store.list_incidents()
    assert incident.claim_types == [ClaimType.LLAMA_BASED, ClaimType.FINE_TUNED]


def test_denial_disputes_and_admission_confirms(store, kb) -> None:
    process(store, kb, yi_en())
    denial = make_article(
        "01.AI denies",
        "The company denied it.",
        published="2023-11-16",
        claims=[make_claim("01-ai", stance=Stance.DENIAL)],
    )
    result = process(store, kb, denial)
    assert store.list_incidents()[0].status is IncidentStatus.DISPUTED
    assert [r.claim.stance for r in result.responses] == [Stance.DENIAL]
    assert result.new_allegations == []
    admission = make_article(
        "零一万物承认并致歉",
        "零一万物承认沿用了 Llama 架构。",
        lang=Language.ZH,
        published="2023-11-20",
        claims=[make_claim("01-ai", stance=Stance.ADMISSION)],
    )
    process(store, kb, admission)
    assert store.list_incidents()[0].status is IncidentStatus.CONFIRMED
    late_denial = make_article(
        "01.AI denies again",
        "Denied.",
        published="2023-11-25",
        url="https://x.example/d2",
        claims=[make_claim("01-ai", stance=Stance.DENIAL)],
    )
    process(store, kb, late_denial)
    assert store.list_incidents()[0].status is IncidentStatus.CONFIRMED  # status never moves back


def test_processing_the_same_article_twice_changes_nothing(store, kb) -> None:
    article = yi_en()
    first = process(store, kb, article)
    before = store.list_incidents()
    again = process(store, kb, article)
    assert store.list_incidents() == before
    assert again.new_allegations == [] and again.responses == []
    assert again.incidents == before
    assert before[0].allegation_keys == [allegation_key(first.new_allegations[0].claim)]


def test_incident_ids_are_deterministic(tmp_path, kb) -> None:
    made = []
    for name in ("a", "b"):
        with SqliteStore(tmp_path / f"{name}.sqlite3", kb=kb) as store:
            made.append(process(store, kb, yi_en()).incidents[0].id)
    assert made[0] == made[1]


def test_commentary_without_an_incident_opens_nothing(store, kb) -> None:
    explainer = make_article(
        "What 'self-developed' means",
        "An explainer.",
        claims=[make_claim("baidu", ClaimType.SELF_DEVELOPED, Stance.SELF_CLAIM)],
    )
    assert process(store, kb, explainer).incidents == []
    assert store.list_incidents() == []


def test_unknown_subjects_cluster_by_name(store, kb) -> None:
    def foo(url, published):
        return make_article(
            "Foo-34B 被指套壳",
            "Foo-34B 疑似基于 Llama。",
            lang=Language.ZH,
            url=url,
            published=published,
            claims=[make_claim(None, subject_name="Foo-34B", obj="llama")],
        )

    process(store, kb, foo("https://a.example/1", "2023-11-01"))
    process(store, kb, foo("https://a.example/2", "2023-11-03"))
    (incident,) = store.list_incidents()
    assert incident.subject is None and incident.title_en == "Foo-34B accused of being based on Llama"
    assert len(incident.article_ids) == 2


def test_overlapping_duplicates_are_merged_into_the_earliest(store, kb) -> None:
    # Two workers opened the same controversy twice (neither saw the other's incident yet).
    zh, en = yi_zh(), yi_en()
    store.upsert_article(zh)
    store.upsert_article(en)
    assign_incidents(store, zh, kb)
    (first,) = store.list_incidents()
    store.delete_incident(first.id)
    assign_incidents(store, en, kb)
    (second,) = store.list_incidents()
    store.upsert_incident(first)
    result = assign_incidents(store, zh, kb)  # a retry of the first article finds both
    (merged,) = store.list_incidents()
    assert merged.id == first.id and result.incidents[0].id == first.id
    assert set(merged.article_ids) == {zh.id, en.id}
    assert store.get_incident(second.id) is None
    assert store.get_article(en.id).incident_ids == [first.id]


def test_merge_incidents_unions_everything(store, kb) -> None:
    process(store, kb, yi_en())
    process(
        store,
        kb,
        make_article(
            "Yi distilled",
            "GPT-4 outputs.",
            published="2023-11-20",
            claims=[
                make_claim("yi-34b", ClaimType.API_DISTILLED, Stance.DENIAL).model_copy(
                    update={"speaker": "01.AI"}  # the accused's own denial opens an incident alone
                )
            ],
        ),
    )
    keep, other = store.list_incidents()
    merged = merge_incidents(store, keep, other)
    assert merged.claim_types == [ClaimType.LLAMA_BASED, ClaimType.API_DISTILLED]
    assert merged.status is IncidentStatus.DISPUTED
    assert [i.id for i in store.list_incidents()] == [keep.id]
    assert len(store.get_incident(keep.id).articles) == 2


def test_titles_in_both_languages(kb) -> None:
    assert incident_title(kb, "ernie-bot", "ERNIE Bot", ClaimType.API_DISTILLED, "gpt-4", "GPT-4") == (
        "ERNIE Bot accused of distilling GPT-4",
        "文心一言 被指蒸馏 GPT-4",
    )
    assert incident_title(kb, "bytedance", "ByteDance", ClaimType.API_WRAPPER, None, None) == (
        "ByteDance accused of being a wrapper around another vendor's API",
        "字节跳动 被指套壳 第三方接口",
    )


def _process_in_child(path: str, index: int, start, results) -> None:
    from nlp.knowledge_base import KnowledgeBase
    from tests.search.conftest import ENTITIES

    kb = KnowledgeBase(ENTITIES)
    article = make_article(
        f"Yi-34B accused, report {index}",
        "Llama tensors.",
        published=f"2023-11-1{index}",
        url=f"https://outlet{index}.example/yi",
        claims=[make_claim("yi-34b", obj="llama")],
    )
    with SqliteStore(path, kb=kb, lock_timeout=30) as store:
        store.upsert_article(article)
        start.wait(30)
        assignment = assign_incidents(store, article, kb)
    results.put(len(assignment.new_allegations))


@pytest.mark.slow
def test_concurrent_workers_open_one_incident_and_report_the_allegation_once(tmp_path) -> None:
    import multiprocessing

    path = str(tmp_path / "store.sqlite3")
    SqliteStore(path).close()
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = [context.Process(target=_process_in_child, args=(path, i, start, results)) for i in range(3)]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    assert sorted(results.get(timeout=5) for _ in workers) == [0, 0, 1]
    with SqliteStore(path) as store:
        (incident,) = store.list_incidents()
        assert len(incident.article_ids) == 3


# Corroboration -----------------------------------------------------------------------------------


def weak_doubao(
    url: str, published: str, source: str, obj: str | None = "gpt-4", title: str = "豆包被指蒸馏"
):
    return make_article(
        title,
        "网友质疑豆包用 GPT-4 的输出训练。",
        lang=Language.ZH,
        source=source,
        published=published,
        url=url,
        claims=[make_claim("doubao", ClaimType.API_DISTILLED, obj=obj, confidence=WEAK)],
    )


def test_a_single_weak_allegation_opens_nothing_and_stays_searchable(store, kb) -> None:
    article = weak_doubao("https://a.example/1", "2023-12-10", "36氪")
    result = process(store, kb, article)
    assert result.incidents == [] and result.new_allegations == []
    assert store.list_incidents() == []
    assert {h.article.id for h in store.search("entity:bytedance").hits} == {article.id}
    assert store.get_article(article.id).incident_ids == []


def test_a_second_outlet_opens_the_incident_with_both_articles_in_timeline_order(store, kb) -> None:
    first = weak_doubao("https://a.example/1", "2023-12-10", "36氪")
    denial = make_article(
        "ByteDance says Doubao was not trained on GPT-4 outputs",
        "ByteDance denied it.",
        source="Reuters",
        published="2023-12-12",
        url="https://b.example/2",
        claims=[make_claim("bytedance", ClaimType.API_DISTILLED, Stance.DENIAL, confidence=WEAK)],
    )
    process(store, kb, first)
    result = process(store, kb, denial)
    (incident,) = store.list_incidents()
    assert result.incidents == [incident]
    assert incident.article_ids == [first.id, denial.id]
    assert [a.id for a in store.get_incident(incident.id).articles] == [first.id, denial.id]
    assert store.get_article(first.id).incident_ids == [incident.id]
    assert incident.started_at == first.article.published_at  # the first allegation, not the opener
    assert incident.status is IncidentStatus.DISPUTED
    assert incident.title_en == "Doubao accused of distilling GPT-4"
    # The waiting allegation is reported now, so that its alert is raised late but not lost.
    assert [(c.article_id, c.claim.stance) for c in result.new_allegations] == [(first.id, Stance.ALLEGATION)]
    assert [(c.article_id, c.claim.stance) for c in result.responses] == [(denial.id, Stance.DENIAL)]
    assert incident.allegation_keys == [allegation_key(first.analysis.claims[0])]


def test_corroboration_works_whatever_the_processing_order(store, kb) -> None:
    early = weak_doubao("https://a.example/1", "2023-12-10", "36氪")
    late = weak_doubao("https://b.example/2", "2023-12-20", "钛媒体", obj="openai", title="字节豆包疑似蒸馏")
    process(store, kb, late)  # crawled first, published later
    result = process(store, kb, early)
    (incident,) = store.list_incidents()
    assert incident.article_ids == [early.id, late.id]
    assert incident.started_at == early.article.published_at
    assert incident.updated_at == late.article.published_at
    assert {(c.article_id, c.claim.object) for c in result.new_allegations} == {
        (early.id, "gpt-4"),
        (late.id, "openai"),
    }


def test_the_same_outlet_twice_or_beyond_the_window_does_not_corroborate(store, kb) -> None:
    process(store, kb, weak_doubao("https://a.example/1", "2023-12-10", "36氪"))
    process(store, kb, weak_doubao("https://a.example/2", "2023-12-11", "36氪"))
    process(store, kb, weak_doubao("https://c.example/3", "2024-06-01", "钛媒体"))
    assert store.list_incidents() == []


def test_a_confident_allegation_opens_at_once(store, kb) -> None:
    article = make_article(
        "Doubao trained on GPT-4 outputs, documents show",
        "Documents show it.",
        url="https://a.example/sure",
        claims=[make_claim("doubao", ClaimType.API_DISTILLED, obj="gpt-4", confidence=SURE)],
    )
    result = process(store, kb, article)
    (incident,) = store.list_incidents()
    assert incident.article_ids == [article.id] and result.incidents == [incident]
    assert [c.article_id for c in result.new_allegations] == [article.id]


def test_the_accused_answering_for_itself_opens_but_another_speaker_does_not(store, kb) -> None:
    def denial(url: str, speaker: str, confidence: float = FAIR, subject: str = "bytedance"):
        claim = make_claim(subject, ClaimType.API_DISTILLED, Stance.DENIAL, confidence=confidence)
        return make_article(
            "Denied",
            "It was denied.",
            url=url,
            claims=[claim.model_copy(update={"speaker": speaker})],
        )

    assert process(store, kb, denial("https://a.example/openai", "OpenAI")).incidents == []
    assert process(store, kb, denial("https://a.example/nobody", "")).incidents == []
    # "联合创始人承认" misread: an unknown subject with itself as the speaker is no party answering.
    misread = make_claim(None, ClaimType.FINE_TUNED, Stance.ADMISSION, subject_name="联合", confidence=FAIR)
    misread = misread.model_copy(update={"speaker": "联合"})
    assert process(store, kb, make_article("联合创始人承认", "承认。", claims=[misread])).incidents == []
    assert store.list_incidents() == []
    assert len(process(store, kb, denial("https://a.example/own", "字节跳动")).incidents) == 1
    # Sure enough, any speaker's response opens alone, as an allegation would.
    sure = denial("https://b.example/sure", "", confidence=SURE, subject="ernie-bot")
    assert process(store, kb, sure).incidents[0].subject == "ernie-bot"


def test_the_source_named_as_the_accused_is_no_evidence_against_it(store, kb) -> None:
    # "Doubao distilled GPT-4" also read as "GPT-4 accused of distilling": two outlets, one misreading.
    def misread(url: str, source: str):
        return make_article(
            "豆包被指蒸馏 GPT-4",
            "网友质疑豆包用 GPT-4 的输出训练。",
            lang=Language.ZH,
            source=source,
            published="2023-12-10",
            url=url,
            claims=[
                make_claim("doubao", ClaimType.API_DISTILLED, obj="gpt-4", confidence=WEAK),
                make_claim("gpt-4", ClaimType.API_DISTILLED, confidence=SURE),
            ],
        )

    process(store, kb, misread("https://a.example/1", "36氪"))
    process(store, kb, misread("https://b.example/2", "钛媒体"))
    (incident,) = store.list_incidents()
    assert incident.subject == "doubao" and len(incident.article_ids) == 2


def test_when_two_parties_name_each_other_as_the_source_the_surer_reading_counts(store, kb) -> None:
    def mutual(url: str, source: str):
        return make_article(
            "Doubao answers that it is GPT-4",
            "Users suspect Doubao was trained on GPT-4 outputs.",
            source=source,
            published="2023-12-10",
            url=url,
            claims=[
                make_claim("gpt-4", ClaimType.API_DISTILLED, obj="doubao", confidence=WEAK / 2),
                make_claim("doubao", ClaimType.API_DISTILLED, obj="gpt-4", confidence=WEAK),
            ],
        )

    process(store, kb, mutual("https://a.example/1", "36氪"))
    process(store, kb, mutual("https://b.example/2", "Reuters"))
    (incident,) = store.list_incidents()
    assert incident.subject == "doubao" and len(incident.article_ids) == 2


def test_unknown_names_are_corroborated_by_name(store, kb) -> None:
    def hengchuan(url: str, source: str, published: str, stance: Stance):
        return make_article(
            "衡川智能法律大模型被指套壳",
            "衡川智能的法律大模型被指调用境外模型接口。",
            lang=Language.ZH,
            source=source,
            published=published,
            url=url,
            claims=[
                make_claim(None, ClaimType.API_WRAPPER, stance, subject_name="衡川智能", confidence=WEAK)
            ],
        )

    first = hengchuan("https://a.example/1", "科技迅闻网", "2024-11-20", Stance.ALLEGATION)
    other_name = make_article(
        "星河-34B 被指套壳",
        "星河-34B 疑似调用境外模型接口。",
        lang=Language.ZH,
        source="钛媒体",
        published="2024-11-25",
        url="https://c.example/3",
        claims=[make_claim(None, ClaimType.API_WRAPPER, subject_name="星河-34B", confidence=WEAK)],
    )
    process(store, kb, first)
    process(store, kb, other_name)
    assert store.list_incidents() == []  # another unknown name corroborates nothing
    admission = hengchuan("https://b.example/2", "港科電訊", "2024-12-06", Stance.ADMISSION)
    process(store, kb, admission)
    (incident,) = store.list_incidents()
    assert incident.subject is None and incident.subject_name == "衡川智能"
    assert incident.article_ids == [first.id, admission.id]
    assert incident.status is IncidentStatus.CONFIRMED


def test_reprocessing_waiting_and_corroborated_articles_changes_nothing(store, kb) -> None:
    first = weak_doubao("https://a.example/1", "2023-12-10", "36氪")
    second = weak_doubao("https://b.example/2", "2023-12-11", "钛媒体", obj="openai")
    process(store, kb, first)
    assert process(store, kb, first).incidents == []  # still waiting, still nothing
    opened = process(store, kb, second)
    before = store.list_incidents()
    for article in (second, first, second):
        again = process(store, kb, article)
        assert again.new_allegations == [] and again.responses == []
        assert again.incidents == before == store.list_incidents()
    assert len(opened.new_allegations) == 2


def test_a_waiting_allegation_alerts_when_its_incident_opens(store, kb) -> None:
    subscription = Subscription(
        id="watch-bytedance",
        name="ByteDance",
        secret="a-secret-of-the-subscription",
        entities=["bytedance"],
        created_at=datetime(2023, 1, 1, tzinfo=UTC),
    )
    store.save_subscription(subscription)
    first = weak_doubao("https://a.example/1", "2023-12-10", "36氪")
    second = weak_doubao("https://b.example/2", "2023-12-11", "钛媒体", obj="openai")
    assert plan_alerts(store, first, process(store, kb, first), kb) == []
    alerts = plan_alerts(store, second, process(store, kb, second), kb)
    (incident,) = store.list_incidents()
    assert sorted(a.claim.object for a in alerts) == ["gpt-4", "openai"]
    assert {a.incident_id for a in alerts} == {incident.id}
    assert plan_alerts(store, first, process(store, kb, first), kb) == []  # once, also on reprocessing


def test_a_waiting_allegation_is_matched_and_named_as_its_own_article(store, kb) -> None:
    """The subscription's query fits only the first (waiting) article: when the second article
    opens the incident, the first one's allegation still alerts, naming the first article."""
    subscription = Subscription(
        id="watch-36kr-wording",
        name="薅羊毛",
        secret="a-secret-of-the-subscription",
        query="输出训练",
        created_at=datetime(2023, 1, 1, tzinfo=UTC),
    )
    store.save_subscription(subscription)
    first = weak_doubao("https://a.example/1", "2023-12-10", "36氪")
    second = make_article(
        "Doubao accused of distilling OpenAI",
        "Users say ByteDance's chatbot was trained on OpenAI outputs.",
        source="The Register",
        published="2023-12-11",
        url="https://b.example/2",
        claims=[make_claim("doubao", ClaimType.API_DISTILLED, obj="openai", confidence=WEAK)],
    )
    assert plan_alerts(store, first, process(store, kb, first), kb) == []
    (alert,) = plan_alerts(store, second, process(store, kb, second), kb)
    assert alert.article_id == first.id
    assert alert.claim.object == "gpt-4"


def test_a_corrected_waiting_claim_alerts_when_the_replay_opens_its_incident(store, kb) -> None:
    """Correcting the second of two weak articles replays both in publication order: the first,
    replayed before it, finds the corrected article waiting and opens the incident with it,
    reporting the corrected claim in its own result; the correction's alert and the corrected
    article's incident must not be lost there."""
    from search.corrections import CorrectionRequest, claim_key, correct_claim

    store.save_subscription(
        Subscription(
            id="watch-bytedance",
            name="ByteDance",
            secret="a-secret-of-the-subscription",
            entities=["bytedance"],
            created_at=datetime(2023, 1, 1, tzinfo=UTC),
        )
    )
    first = weak_doubao("https://a.example/1", "2023-12-10", "36氪")
    second = weak_doubao("https://b.example/2", "2023-12-11", "钛媒体", obj="openai")
    for article in (first, second):
        plan_alerts(store, article, process(store, kb, article), kb)
    (claim,) = store.get_article(second.id).analysis.claims
    request = CorrectionRequest(
        article_id=second.id, claim_key=claim_key(second.id, claim), type=ClaimType.API_WRAPPER
    )
    outcome = correct_claim(store, kb, request)
    (incident,) = store.list_incidents()
    assert outcome.incident_ids == [incident.id]
    corrected = [a for a in outcome.alerts if a.article_id == second.id]
    assert [a.claim.type for a in corrected] == [ClaimType.API_WRAPPER]


def test_the_opening_rules_file_is_configurable(store, kb, tmp_path, monkeypatch) -> None:
    """SHELLWATCH_INCIDENT_OPENING names another rules file: with one outlet enough, a single weak
    allegation opens its incident; a malformed file is an error naming the file."""
    rules = tmp_path / "opening.yaml"
    rules.write_text("corroborating_sources: 1\nconfident_claim: 0.8\nconfident_response: 0.35\n")
    monkeypatch.setenv("SHELLWATCH_INCIDENT_OPENING", str(rules))
    result = process(store, kb, weak_doubao("https://a.example/1", "2023-12-10", "36氪"))
    assert len(result.incidents) == 1 and len(result.new_allegations) == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text("corroborating_sources: none\n")
    monkeypatch.setenv("SHELLWATCH_INCIDENT_OPENING", str(broken))
    with pytest.raises(ValueError, match="broken.yaml"):
        opening_rules()


def unknown_party(
    name: str,
    text: str,
    source: str,
    published: str,
    url: str,
    claim_type: ClaimType,
    stance=Stance.ALLEGATION,
):
    """A Chinese article with one sure claim about `name`, a party the knowledge base does not know."""
    claim = make_claim(None, claim_type, stance, subject_name=name, confidence=SURE)
    return make_article(
        name, text, lang=Language.ZH, source=source, published=published, url=url, claims=[claim]
    )


def test_an_unknown_product_and_its_unknown_maker_are_one_party(store, kb) -> None:
    """衡川法律大模型 accused, then 衡川智能 admitting: one incident (the demo had two), while a name
    that only starts alike without a product or company mark after it stays apart."""
    product = unknown_party(
        "衡川法律大模型",
        "开发者扒出衡川法律大模型的系统提示词。",
        "科技讯",
        "2024-12-03",
        "https://a.example/hc1",
        ClaimType.PROMPT_WRAPPER,
    )
    maker = unknown_party(
        "衡川智能",
        "衡川智能在声明中承认公测版只在境外模型上加了提示词。",
        "港科技",
        "2024-12-06",
        "https://b.example/hc2",
        ClaimType.PROMPT_WRAPPER,
        Stance.ADMISSION,
    )
    other = unknown_party(
        "衡川物流",
        "网友质疑衡川物流的客服机器人。",
        "科技讯",
        "2024-12-07",
        "https://c.example/hc3",
        ClaimType.API_WRAPPER,
    )
    for article in (product, maker, other):
        process(store, kb, article)
    incidents = store.list_incidents()
    assert sorted(len(i.article_ids) for i in incidents) == [1, 2]
    (together,) = [i for i in incidents if len(i.article_ids) == 2]
    assert set(together.article_ids) == {product.id, maker.id}
    assert together.status is IncidentStatus.CONFIRMED
