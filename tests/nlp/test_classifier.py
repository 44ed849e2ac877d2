"""The trained claim classifier: shipped in step with its data, deciding the claims, reproducible."""

from __future__ import annotations

import json

import pytest
from spacy.tokens import Doc

from nlp.classifier import (
    CLAIM_PIPE,
    MODEL_DIR,
    SUBJECT_PIPE,
    TYPE_PIPE,
    ClaimClassifier,
    choose_subjects,
    claim_tokens,
    unit_tokens,
)
from nlp.pipeline import Analyzer
from nlp.training import TRAINING_FILES, Settings, data_hash, load_examples, train
from shellwatch.domain import ClaimType, Language, Stance


def test_shipped_model_is_trained_on_the_current_data():
    meta = json.loads((MODEL_DIR / "meta.json").read_text(encoding="utf-8"))
    assert meta["data_sha256"] == data_hash(TRAINING_FILES), (
        "the labelled training data changed since nlp/data/models/claims was trained: "
        "run `make train-nlp` (shellwatch train-nlp) and commit the model with the data"
    )


def test_shipped_model_is_small():
    size = sum(p.stat().st_size for p in MODEL_DIR.rglob("*") if p.is_file())
    assert size < 6_000_000


def claims_of(analyzer: Analyzer, text: str) -> set[tuple]:
    return {
        (c.subject or c.subject_name, c.type.value, c.stance.value) for c in analyzer.analyze(text).claims
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Researchers found that Orion-72B reuses the Llama 2 architecture with the tensors renamed.",
            ("Orion-72B", "llama_based", "allegation"),
        ),
        (
            "有网友发现，妙笔AI的所有请求都被转发到了OpenAI的接口。",
            ("妙笔AI", "api_wrapper", "allegation"),
        ),
        (
            "字节跳动否认其豆包大模型使用了OpenAI模型生成的数据进行训练。",
            ("doubao", "api_distilled", "denial"),
        ),
        (
            "百川智能表示，Baichuan-7B完全由团队自主研发，从零开始训练。",
            ("baichuan-7b", "self_developed", "self_claim"),
        ),
    ],
)
def test_classifier_reads_clear_claims(analyzer, text, expected):
    assert expected in claims_of(analyzer, text)


@pytest.mark.parametrize(
    "text",
    [
        "Llama 2's SwiGLU activation was inspired by PaLM.",
        "文心一言采用了基于Transformer的架构。",
        "OpenAI raised $6.6 billion at a $157 billion valuation.",
    ],
)
def test_history_and_news_make_no_claim(analyzer, text):
    assert analyzer.analyze(text).claims == []


def test_the_classifier_decides_and_its_probability_is_the_confidence(analyzer, kb):
    text = "The Verge reported that Foo-34B is a thin wrapper around the OpenAI API."
    classifier = analyzer.resources.classifier
    extractor = analyzer.resources.claims
    doc = analyzer.pipelines[Language.EN](text)
    [unit] = doc._.sw_units
    [claim] = [found.claim for found in doc._.sw_claims]
    assert (claim.type, claim.stance) == (ClaimType.API_WRAPPER, Stance.ALLEGATION)
    model = classifier.models[Language.EN]
    p_type = model.type_scores([unit_tokens(unit, extractor)])[0][ClaimType.API_WRAPPER]
    [choice] = choose_subjects(classifier.models, [unit], [(0, ClaimType.API_WRAPPER)], extractor)
    assert choice.option.mention.name == "Foo-34B"
    scores = model.claim_scores([claim_tokens(unit, choice.found, extractor, p_type, choice)])[0]
    assert claim.confidence == round(scores["allegation"], 2)

    # A classifier that finds every candidate unlikely drops the claim the rules would make.
    doubtful = ClaimClassifier(classifier.models, classifier.threshold, 0.0, classifier.meta)
    assert Analyzer(kb, classifier=doubtful).analyze(text).claims == []
    assert Analyzer(kb, classifier=None).analyze(text).claims  # the rules alone do claim it


def test_fast_prediction_matches_spacy(analyzer):
    model = analyzer.resources.classifier.models[Language.ZH]
    token_lists = [
        ["⟨cue:api_wrapper:strong⟩", "被", "指", "套", "壳", "⟨api-model⟩"],
        ["a", "b", "a", "b"],
        ["x"],
    ]
    for pipe, fast in ((TYPE_PIPE, model.type_scores), (CLAIM_PIPE, model.claim_scores)):
        docs = [Doc(model.nlp.vocab, words=tokens) for tokens in token_lists]
        expected = model.nlp.get_pipe(pipe).predict(docs)
        for row, scores in zip(expected, fast(token_lists), strict=True):
            assert list(scores.values()) == pytest.approx([float(x) for x in row], abs=1e-5)
    docs = [Doc(model.nlp.vocab, words=tokens) for tokens in token_lists]
    expected = model.nlp.get_pipe(SUBJECT_PIPE).predict(docs)
    subject = list(model.nlp.get_pipe(SUBJECT_PIPE).labels).index("subject")
    assert model.subject_scores(token_lists) == pytest.approx(
        [float(row[subject]) for row in expected], abs=1e-5
    )


def test_training_is_deterministic(kb):
    examples = [e for e in load_examples(TRAINING_FILES) if e["claims"]][::12]
    settings = Settings(epochs=2)
    first, _ = train(examples, kb, settings)
    second, _ = train(examples, kb, settings)
    token_lists = [["⟨type:llama_based⟩", "被", "指"], ["⟨type:api_wrapper⟩", "accused", "of"]]
    for language in Language:
        assert first.models[language].claim_scores(token_lists) == second.models[language].claim_scores(
            token_lists
        )
        assert (
            first.models[language].nlp.get_pipe(TYPE_PIPE).model.to_bytes()
            == second.models[language].nlp.get_pipe(TYPE_PIPE).model.to_bytes()
        )


@pytest.mark.parametrize(
    ("text", "relevant"),
    [
        ("OpenAI发布视频生成模型Sora，可生成长达一分钟的高清视频。", False),
        ("Mistral AI releases Mixtral 8x7B and raises €385 million in new funding.", False),
        ("号称完全自研的某法律大模型被开发者扒出系统提示词。", True),
        ("Is Orion-13B just Llama 2 in disguise?", True),
    ],
)
def test_first_sentence_relevance(analyzer, text, relevant):
    doc = analyzer.pipelines[model_language(text)](text)
    assert (doc._.sw_relevance >= 0.5) is relevant
    assert analyzer.analyze(text).relevant is relevant


def model_language(text: str) -> Language:
    return Language.ZH if any("\u4e00" <= c <= "\u9fff" for c in text) else Language.EN


def test_a_missing_model_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make train-nlp"):
        ClaimClassifier.load(tmp_path)
