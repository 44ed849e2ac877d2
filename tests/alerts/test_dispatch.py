"""plan_alerts with the real SQLite store and incident assignment: what is new alerts once."""

from __future__ import annotations

from datetime import timedelta

from alerts.dispatch import plan_alerts
from nlp.knowledge_base import KnowledgeBase
from search.backends.sqlite import SqliteStore
from search.incidents import assign_incidents
from shellwatch.domain import ClaimType, Language, Stance
from tests.alerts.conftest import (
    FEED,
    NOW,
    make_article,
    make_claim,
    make_subscription,
    process,
    webhook,
)

HOOK = webhook("http://127.0.0.1:9/hook")


def subscribe(store: SqliteStore, name: str, **fields: object):
    subscription = make_subscription([HOOK, FEED], name=name, **fields)
    store.save_subscription(subscription)
    return subscription


def test_new_allegation_alerts_matching_subscriptions_once(store: SqliteStore, kb: KnowledgeBase) -> None:
    company = subscribe(store, "01.AI watch", entities=["01-ai"])  # a company matches its models
    model = subscribe(store, "Yi watch", entities=["yi-34b"])
    other = subscribe(store, "ByteDance watch", entities=["bytedance"])
    everything = subscribe(store, "everything")

    alerts = process(store, kb, make_article([make_claim()]))

    assert sorted(a.subscription_id for a in alerts) == sorted([company.id, model.id, everything.id])
    assert store.list_alerts(other.id) == []
    alert = store.list_alerts(company.id)[0]
    assert alert.claim.subject == "yi-34b" and alert.incident_id
    assert store.get_incident(alert.incident_id) is not None
    # A pending delivery is written with the alert for each push channel (readers pull the feed).
    [state] = store.list_deliveries(company.id)
    assert state.channel == f"webhook:{HOOK.target}" and state.delivered_at is None


def test_same_article_twice_and_a_retried_plan_give_one_alert(store: SqliteStore, kb: KnowledgeBase) -> None:
    subscription = subscribe(store, "Yi watch", entities=["01-ai"])
    article = make_article([make_claim()])
    store.upsert_article(article)
    assignment = assign_incidents(store, article, kb)

    first = plan_alerts(store, article, assignment, kb)
    # The task crashed after planning and is retried with the same input: nothing new.
    retried = plan_alerts(store, article, assignment, kb)
    # The whole article is processed again (a duplicate hand-off): incidents know it, nothing new.
    again = process(store, kb, article)

    assert len(first) == 1 and retried == [] and again == []
    assert len(store.list_alerts(subscription.id)) == 1
    assert len(store.list_deliveries(subscription.id)) == 1  # one per push channel, not per attempt


def test_repeat_of_a_known_allegation_raises_nothing(store: SqliteStore, kb: KnowledgeBase) -> None:
    subscription = subscribe(store, "Yi watch", entities=["01-ai"])
    assert len(process(store, kb, make_article([make_claim()]))) == 1
    repeat = make_article(
        [
            make_claim(
                evidence="Yi-34B again: the model is Llama with renamed tensors, a second outlet reports."
            )
        ],
        url="https://other.example/yi-again",
        title="零一万物Yi-34B被指套壳Llama",
        language=Language.ZH,
        published_at=NOW + timedelta(days=1),
    )
    assert process(store, kb, repeat) == []
    assert len(store.list_alerts(subscription.id)) == 1


def test_denial_alerts_only_subscriptions_that_ask_for_responses(
    store: SqliteStore, kb: KnowledgeBase
) -> None:
    allegations_only = subscribe(store, "allegations", entities=["01-ai"])
    with_responses = subscribe(
        store,
        "with responses",
        entities=["01-ai"],
        stances=[Stance.ALLEGATION, Stance.DENIAL, Stance.ADMISSION],
    )
    process(store, kb, make_article([make_claim()]))
    denial = make_article(
        [
            make_claim(
                subject="01-ai",
                subject_name="01.AI",
                stance=Stance.DENIAL,
                evidence="01.AI denied that Yi-34B is a copy of Llama, saying only tensor names were kept.",
            )
        ],
        url="https://news.example/01ai-responds",
        title="01.AI responds to Llama claims",
        published_at=NOW + timedelta(days=2),
    )
    alerts = process(store, kb, denial)

    assert [a.subscription_id for a in alerts] == [with_responses.id]
    assert alerts[0].claim.stance is Stance.DENIAL
    assert len(store.list_alerts(allegations_only.id)) == 1
    assert len(store.list_alerts(with_responses.id)) == 2  # the allegation and its denial, once each


def test_claim_filters(store: SqliteStore, kb: KnowledgeBase) -> None:
    by_type = subscribe(store, "distillation", claim_types=[ClaimType.API_DISTILLED])
    shallow = subscribe(store, "resellers", max_depth=2)
    deep_ok = subscribe(store, "depth 5", max_depth=5)
    chinese = subscribe(store, "zh only", languages=[Language.ZH])
    confident = subscribe(store, "sure", min_confidence=0.95)
    queried = subscribe(store, "query llama", query="llama")
    other_query = subscribe(store, "query gemini", query="gemini")
    paused = subscribe(store, "paused", paused=True)

    alerts = process(store, kb, make_article([make_claim(confidence=0.9)]))  # llama_based, depth 5, English

    matched = {a.subscription_id for a in alerts}
    assert deep_ok.id in matched and queried.id in matched
    for subscription in (by_type, shallow, chinese, confident, other_query, paused):
        assert subscription.id not in matched, subscription.name


def test_unknown_model_alerts_unfiltered_subscriptions(store: SqliteStore, kb: KnowledgeBase) -> None:
    everything = subscribe(store, "everything", claim_types=[ClaimType.API_WRAPPER])
    baidu = subscribe(store, "Baidu", entities=["baidu"])
    claim = make_claim(
        subject=None,
        subject_name="Foo-34B",
        claim_type=ClaimType.API_WRAPPER,
        object_id="gpt-4",
        object_name="GPT-4",
        evidence="Users found that Foo-34B simply forwards requests to the OpenAI API.",
    )
    alerts = process(
        store, kb, make_article([claim], url="https://news.example/foo", title="Foo-34B is an API wrapper")
    )
    assert [a.subscription_id for a in alerts] == [everything.id]
    assert store.list_alerts(baidu.id) == []


def test_alerts_to_push_come_before_feed_only_alerts(store: SqliteStore, kb: KnowledgeBase) -> None:
    feed_only = [make_subscription([FEED], name=f"feed {n}") for n in range(3)]
    pushed = make_subscription([HOOK], name="hook", created_at=NOW)  # the newest: matched last
    for subscription in (*feed_only, pushed):
        store.save_subscription(subscription)
    alerts = process(store, kb, make_article([make_claim()]))
    assert [s.id for s in store.match_subscriptions(make_article([make_claim()]))][-1] == pushed.id
    assert [a.subscription_id for a in alerts][0] == pushed.id
    assert len(alerts) == 4


def test_same_allegation_in_a_new_controversy_months_later_alerts_again(
    store: SqliteStore, kb: KnowledgeBase
) -> None:
    subscription = subscribe(store, "Yi watch", entities=["01-ai"])
    [first] = process(store, kb, make_article([make_claim()]))
    months_later = make_article(
        [make_claim(evidence="A year on, researchers again say Yi-34B is Llama with renamed tensors.")],
        url="https://news.example/yi-again-2024",
        published_at=NOW + timedelta(days=365),
    )
    [second] = process(store, kb, months_later)
    assert first.incident_id != second.incident_id
    assert len(store.list_alerts(subscription.id)) == 2
    assert process(store, kb, months_later) == []  # and that one only once too
