"""Incident clustering on a real SQLite store: languages, time, stances, idempotence, merging."""

from __future__ import annotations

import pytest

from search.backends.sqlite import SqliteStore
from search.incidents import assign_incidents, incident_title, merge_incidents
from shellwatch.domain import ClaimType, IncidentStatus, Language, Stance, allegation_key
from tests.search.conftest import make_article, make_claim


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
            claims=[make_claim("yi-34b", ClaimType.API_DISTILLED, Stance.DENIAL)],
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
