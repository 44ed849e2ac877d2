"""Corrections: made through the API, stored, re-applied after re-analysis, re-assigning incidents,
raising alerts, and exported as labelled examples in the NLP dev-set format."""

from __future__ import annotations

import json

import jsonschema
from fastapi.testclient import TestClient

from search import open_store
from search.corrections import apply_corrections, claim_key
from search.entities import load_kb
from shellwatch.config import Settings
from shellwatch.domain import Channel, ChannelKind, Stance, Subscription
from tests.nlp_data.test_datasets import EXAMPLE_SCHEMA
from tests.web.conftest import Corpus, bearer


def key_of(client: TestClient, article_id: str, index: int = 0) -> str:
    return client.get(f"/api/articles/{article_id}").json()["claims"][index]["key"]


def correct(client: TestClient, token: str, **body) -> dict:
    response = client.post("/api/corrections", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()


def incidents(client: TestClient) -> dict[str | None, dict]:
    return {i["subject"]: i for i in client.get("/api/incidents").json()["incidents"]}


def test_correcting_a_type_changes_the_claim_the_incident_and_search(
    client: TestClient, corpus: Corpus, write_token: str
) -> None:
    key = key_of(client, corpus.bytedance_en.id)
    result = correct(
        client,
        write_token,
        article_id=corpus.bytedance_en.id,
        claim_key=key,
        type="api_wrapper",
        note="a reseller",
    )
    claim = result["article"]["claims"][0]
    assert claim["type"] == "api_wrapper" and claim["depth"] == 1 and claim["corrected"] is True
    assert result["correction"]["before"]["type"] == "api_distilled"
    assert "api_wrapper" in incidents(client)["bytedance"]["claim_types"]
    found = client.get("/api/search", params={"q": "type:api_wrapper depth:<=1"}).json()
    assert corpus.bytedance_en.id in {h["id"] for h in found["hits"]}


def test_dismissing_the_only_allegations_removes_the_incident(
    client: TestClient, corpus: Corpus, write_token: str
) -> None:
    evil = incidents(client)[None]
    assert evil["subject_name"] == "Evil-7B"
    correct(
        client, write_token, article_id=corpus.xss.id, claim_key=key_of(client, corpus.xss.id), dismiss=True
    )
    assert None not in incidents(client)
    assert client.get(f"/api/incidents/{evil['id']}").status_code == 404
    article = client.get(f"/api/articles/{corpus.xss.id}").json()
    assert article["claims"] == [] and article["incident_ids"] == []
    assert article["corrections"][0]["dismissed"] is True


def test_changing_the_subject_moves_the_claim_and_keeps_the_rest_of_the_incident(
    client: TestClient, corpus: Corpus, write_token: str
) -> None:
    yi = incidents(client)["yi-34b"]
    correct(
        client,
        write_token,
        article_id=corpus.yi_en.id,
        claim_key=key_of(client, corpus.yi_en.id),
        subject="豆包",
    )
    after = incidents(client)
    assert after["yi-34b"]["id"] == yi["id"]  # rebuilt from its remaining coverage, same id
    detail = client.get(f"/api/incidents/{yi['id']}").json()
    assert corpus.yi_en.id not in [c["id"] for c in detail["coverage"]]
    assert detail["status"] == "disputed"
    doubao = [i for i in after.values() if i["subject"] == "doubao"]
    assert doubao and corpus.yi_en.id in doubao[0]["article_ids"]


def filled_settings(client: TestClient) -> Settings:
    return client.app.state.web.settings


def test_a_second_correction_refines_the_first(
    client: TestClient, filled: Settings, corpus: Corpus, write_token: str
) -> None:
    article_id = corpus.bytedance_zh.id
    correct(
        client, write_token, article_id=article_id, claim_key=key_of(client, article_id), stance="admission"
    )
    assert incidents(client)["bytedance"]["status"] == "confirmed"  # the denial is now an admission
    correct(
        client, write_token, article_id=article_id, claim_key=key_of(client, article_id), subject="Doubao"
    )
    claim = client.get(f"/api/articles/{article_id}").json()["claims"][0]
    assert (claim["stance"], claim["type"], claim["subject"]) == ("admission", "api_distilled", "doubao")
    with open_store(filled) as store:
        assert len(store.list_corrections(article_id)) == 2
        assert apply_corrections(store, corpus.bytedance_zh).analysis.claims[0].subject == "doubao"


def test_corrections_survive_reanalysis(
    filled: Settings, client: TestClient, corpus: Corpus, write_token: str
) -> None:
    """The pipeline re-processes the article with the analyser's original output: after
    apply_corrections (what workers call) the correction is back, and storing it changes nothing."""
    from workers.pipeline import store_analysed

    article_id = corpus.bytedance_en.id
    correct(
        client, write_token, article_id=article_id, claim_key=key_of(client, article_id), stance="analysis"
    )
    with open_store(filled) as store:
        reanalysed = apply_corrections(store, corpus.bytedance_en)  # the analyser's fresh output
        assert [c.stance for c in reanalysed.analysis.claims] == [Stance.ANALYSIS]
        store_analysed(store, reanalysed, load_kb(filled))
        assert store.get_article(article_id).analysis.claims[0].stance is Stance.ANALYSIS
        untouched = apply_corrections(store, corpus.yi_en)
        assert untouched == corpus.yi_en


def test_corrections_that_turn_a_claim_into_an_allegation_raise_alerts(
    filled: Settings, client: TestClient, corpus: Corpus, write_token: str
) -> None:
    with open_store(filled) as store:
        store.save_subscription(
            Subscription(
                id="watch-bd",
                name="ByteDance",
                entities=["bytedance"],
                channels=[Channel(kind=ChannelKind.FEED)],
                secret="x",
                created_at="2024-01-01T00:00:00Z",
            )
        )
    article_id = corpus.bytedance_zh.id  # a denial: no alert so far
    result = correct(
        client,
        write_token,
        article_id=article_id,
        claim_key=key_of(client, article_id),
        stance="allegation",
        type="api_wrapper",
    )
    assert result["alerts_planned"] == 1
    with open_store(filled) as store:
        alerts = store.list_alerts("watch-bd")
    assert [a.claim.type.value for a in alerts] == ["api_wrapper"]


def test_correction_errors(client: TestClient, corpus: Corpus, write_token: str, read_token: str) -> None:
    article_id = corpus.yi_en.id
    key = key_of(client, article_id)
    body = {"article_id": article_id, "claim_key": key, "stance": "denial"}
    assert client.post("/api/corrections", json=body).status_code == 401
    assert client.post("/api/corrections", json=body, headers=bearer(read_token)).status_code == 403
    nothing = client.post(
        "/api/corrections", json={"article_id": article_id, "claim_key": key}, headers=bearer(write_token)
    )
    assert nothing.status_code == 422 and "at least one" in nothing.json()["detail"]
    same = client.post("/api/corrections", json={**body, "stance": "allegation"}, headers=bearer(write_token))
    assert same.status_code == 422 and "changes nothing" in same.json()["detail"]
    wrong_key = client.post(
        "/api/corrections", json={**body, "claim_key": "0" * 16}, headers=bearer(write_token)
    )
    assert wrong_key.status_code == 404
    no_article = client.post(
        "/api/corrections", json={**body, "article_id": "f" * 16}, headers=bearer(write_token)
    )
    assert no_article.status_code == 404
    bad_type = client.post("/api/corrections", json={**body, "type": "shell"}, headers=bearer(write_token))
    assert bad_type.status_code == 422 and bad_type.json()["errors"][0]["field"] == "type"
    correct(client, write_token, **body)
    stale = client.post("/api/corrections", json={**body, "stance": "admission"}, headers=bearer(write_token))
    assert stale.status_code == 404 and "reload" in stale.json()["detail"]  # the key changed with the claim


def test_export_as_labelled_examples(
    client: TestClient, corpus: Corpus, write_token: str, read_token: str
) -> None:
    correct(
        client,
        write_token,
        article_id=corpus.yi_en.id,
        claim_key=key_of(client, corpus.yi_en.id),
        stance="analysis",
    )
    correct(
        client, write_token, article_id=corpus.xss.id, claim_key=key_of(client, corpus.xss.id), dismiss=True
    )
    assert client.get("/api/corrections/export.jsonl").status_code == 401
    response = client.get("/api/corrections/export.jsonl", headers=bearer(read_token))
    assert response.status_code == 200
    examples = [json.loads(line) for line in response.text.splitlines()]
    for example in examples:
        jsonschema.validate(example, EXAMPLE_SCHEMA)
    by_text = {e["text"]: e for e in examples}
    yi = by_text[corpus.yi_en.analysis.claims[0].evidence]
    assert yi["language"] == "en" and yi["script"] == "latin"
    assert yi["claims"] == [
        {
            "subject": "yi-34b",
            "subject_name": "Yi-34B",
            "object": "llama",
            "type": "llama_based",
            "stance": "analysis",
            "speaker": None,
        }
    ]
    assert "yi-34b" in yi["entities"]
    evil = by_text[corpus.xss.analysis.claims[0].evidence]
    assert evil["claims"] == []  # dismissed: a labelled negative
    listed = client.get("/api/corrections").json()
    assert listed["total"] == 2


def test_claim_keys_ignore_confidence_and_whitespace(corpus: Corpus) -> None:
    original = corpus.yi_en.analysis.claims[0]
    rescored = original.model_copy(update={"confidence": 0.4, "evidence": "  " + original.evidence + "\n"})
    assert claim_key(corpus.yi_en.id, original) == claim_key(corpus.yi_en.id, rescored)
    assert claim_key(corpus.yi_en.id, original) != claim_key(corpus.yi_zh.id, original)
