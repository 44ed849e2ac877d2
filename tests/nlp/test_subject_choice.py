"""The trained subject choice: every party a clause names is a candidate subject, the subject
classifier picks one per (clause, type), and the stance follows who speaks about whom."""

from __future__ import annotations

import pytest

from nlp.classifier import choose_subjects, marked_tokens
from shellwatch.domain import ClaimType, Language, Stance


def units_of(analyzer, text: str, language: Language = Language.ZH):
    return analyzer.pipelines[language](text)._.sw_units


def options_of(analyzer, unit) -> dict[str, str]:
    return {o.mention.name: o.origin for o in analyzer.resources.claims.subject_options(unit)}


def test_the_accused_product_is_the_subject_and_the_source_the_object(analyzer):
    [claim] = analyzer.analyze("网友发现星河-34B实际调用了Claude的接口").claims
    assert (claim.subject, claim.subject_name, claim.object) == (None, "星河-34B", "claude")
    assert (claim.type, claim.stance) == (ClaimType.API_WRAPPER, Stance.ALLEGATION)


def test_the_subject_classifier_prefers_the_product_to_the_source_it_is_built_on(analyzer):
    [unit] = units_of(analyzer, "有开发者发现，妙笔AI的所有请求都被转发到了OpenAI的接口。")
    extractor = analyzer.resources.claims
    [choice] = choose_subjects(
        analyzer.resources.classifier.models, [unit], [(0, ClaimType.API_WRAPPER)], extractor
    )
    scores = {o.mention.name: p for o, p in zip(choice.options, choice.scores, strict=True)}
    assert set(scores) >= {"妙笔AI", "OpenAI"}
    assert choice.option.mention.name == "妙笔AI"
    assert scores["妙笔AI"] > 0.5 > scores["OpenAI"]


def test_each_candidate_is_marked_as_the_subject_in_turn(analyzer):
    [unit] = units_of(analyzer, "网友发现星河-34B实际调用了Claude的接口")
    options = analyzer.resources.claims.subject_options(unit)
    marked = [marked_tokens(unit, option, analyzer.resources.claims) for option in options]
    assert [tokens.count("⟨subj⟩") for tokens in marked] == [1] * len(options)
    assert marked[0] != marked[1]
    assert "⟨api-model⟩" in marked[0]  # Claude by its role while 星河-34B is the candidate


def test_the_speakers_company_is_a_candidate_without_its_role(analyzer):
    [unit] = units_of(analyzer, "松果科技CTO表示，我们的SFT数据一条都没有用ChatGPT生成。")
    options = options_of(analyzer, unit)
    assert options.get("松果科技") == "speaker"
    assert "ChatGPT" in options


@pytest.mark.parametrize(
    "text",
    ["网友质疑这款产品是套壳，联合创始人回应称并非如此。", "分析人士认为，这类应用大多是套壳。"],
)
def test_a_role_or_a_commentator_names_no_candidate(analyzer, text):
    for unit in units_of(analyzer, text):
        assert not {name for name, origin in options_of(analyzer, unit).items() if origin == "speaker"}


def test_an_epithet_before_a_known_name_is_no_candidate(analyzer):
    [unit] = units_of(analyzer, "“最强开源模型”Reflection 70B被指套壳Claude")
    assert "最强开源模型" not in options_of(analyzer, unit)


def test_the_subject_of_an_earlier_sentence_is_carried_as_a_candidate(analyzer):
    first, second = units_of(analyzer, "网友发现星河-34B实际调用了Claude的接口。星河科技随后否认套壳。")
    assert options_of(analyzer, second).get("星河-34B") == "carried"


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("星河科技随后否认套壳。", "星河科技"),
        ("Nebula AI denied that Nebula-7B was a wrapper.", "Nebula-7B"),
    ],
)
def test_the_accused_speaking_about_itself_is_its_own_party(analyzer, text, subject):
    language = Language.EN if text.isascii() else Language.ZH
    extractor = analyzer.resources.claims
    for unit in units_of(analyzer, text, language):
        [option] = [o for o in extractor.subject_options(unit) if o.mention.name == subject]
        found = extractor.unit_claim(unit, ClaimType.SELF_DEVELOPED, option)
        assert found is not None and found.party == "self"


def test_a_denial_by_the_accused_company_is_a_denial(analyzer):
    claims = analyzer.analyze("星河科技随后否认套壳。").claims
    assert [(c.subject_name, c.stance) for c in claims] == [("星河科技", Stance.DENIAL)]
