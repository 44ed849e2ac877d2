"""A third party clearing a subject is analysis, and phrases that cannot be names are no subjects."""

from __future__ import annotations

import pytest

from nlp.classifier import Decision, SubjectChoice
from shellwatch.domain import ClaimType, Stance

CLEARING = [
    "Researchers found no evidence that Corvus-72B was trained on GPT-4 outputs.",
    "Two independent reviewers found no sign that Corvus-72B relays requests to OpenAI's API.",
    "研究人員表示，並無證據顯示閏道AI直接調用了百度的接口。",
    "Nobody in the thread presented evidence that Corvus-72B's weights had been copied from Llama.",
    "审计报告称，没有任何迹象表明闰道AI直接调用了百度的接口。",
]


def _decision(stances: dict[str, float], *, cleared: bool) -> Decision:
    choice = SubjectChoice(options=[], scores=[], best=None, found=None)
    decision = Decision(0, ClaimType.API_DISTILLED, 0.9, choice, 0.7, stances, cleared=cleared)
    return decision


def test_a_cleared_allegation_is_analysis_and_other_stances_stay():
    allegation = {"allegation": 0.6, "analysis": 0.3, "denial": 0.05, "none": 0.05}
    assert _decision(allegation, cleared=False).stance == Stance.ALLEGATION.value
    assert _decision(allegation, cleared=True).stance == Stance.ANALYSIS.value
    denial = {"allegation": 0.1, "analysis": 0.2, "denial": 0.65, "none": 0.05}
    assert _decision(denial, cleared=True).stance == Stance.DENIAL.value
    assert _decision({"allegation": 0.1, "none": 0.9}, cleared=True).stance is None


@pytest.mark.parametrize("text", CLEARING)
def test_a_third_party_clearing_is_never_an_allegation(analyzer, text):
    stances = {claim.stance for claim in analyzer.analyze(text).claims}
    assert Stance.ALLEGATION not in stances, text


@pytest.mark.parametrize(
    ("text", "not_a_name"),
    [
        ("但有用户发现，它在被问及身份时会回答自己是Claude。", "它在"),
        ("“说我们转发Claude的接口，完全是无稽之谈。”", "完全"),
        ("Partly, the model was distilled from GPT-4, the report says.", "Partly"),
    ],
)
def test_a_phrase_that_cannot_be_a_name_is_no_subject(analyzer, text, not_a_name):
    analysis = analyzer.analyze(text)
    assert not_a_name not in {claim.subject_name for claim in analysis.claims}
    assert not_a_name not in {entity.name for entity in analysis.entities}


def test_training_still_proposes_them_as_what_is_no_subject(analyzer):
    from shellwatch.domain import Language

    extractor = analyzer.resources.claims
    doc = analyzer.pipelines[Language.ZH]("但有用户发现，它在被问及身份时会回答自己是Claude。")
    unit = doc._.sw_units[0]
    try:
        extractor.propose_unlikely_names = True
        unit.derived.pop("subject_options", None)
        proposed = {option.mention.surface for option in extractor.subject_options(unit)}
    finally:
        extractor.propose_unlikely_names = False
        unit.derived.pop("subject_options", None)
    assert "它在" in proposed
    assert "它在" not in {option.mention.surface for option in extractor.subject_options(unit)}


OWNED = (
    "澜舟科技新模型被指套壳通义千问\n"
    "有开发者发文称，澜舟科技上周发布的“孟子-70B”在被问及身份时自称通义千问。"
    "对此，澜舟科技发表声明，否认套壳说法，称孟子-70B的基座模型由公司从零训练。"
)


def test_a_company_speaks_for_the_product_the_document_says_is_its_own(analyzer):
    """孟子-70B is unknown to the knowledge base; the document says Langboat released it, so
    Langboat's statement about it is the accused party's, not a third party's."""
    from shellwatch.domain import Language

    extractor = analyzer.resources.claims
    doc = analyzer.pipelines[Language.ZH](OWNED)
    response = next(unit for unit in doc._.sw_units if "否认" in unit.sentence)
    assert response.owners.get("孟子70b") == frozenset({"langboat"})
    option = next(o for o in extractor.subject_options(response) if o.mention.surface == "孟子-70B")
    found = extractor.unit_claim(response, ClaimType.SELF_DEVELOPED, option)
    assert found is not None and found.party == "self"
    # A speaker the document does not tie to the product stays a third party.
    other = analyzer.pipelines[Language.ZH](OWNED.replace("对此，澜舟科技", "对此，智谱AI"))
    unit = next(unit for unit in other._.sw_units if "否认" in unit.sentence)
    option = next(o for o in extractor.subject_options(unit) if o.mention.surface == "孟子-70B")
    assert extractor.unit_claim(unit, ClaimType.SELF_DEVELOPED, option).party == "third"


def test_ownership_is_read_in_english_both_ways(analyzer):
    from shellwatch.domain import Language

    for text in (
        "Langboat's LexQuill was accused of forwarding questions to Claude. Langboat denied it.",
        "LexQuill, built by Langboat, was accused of forwarding questions to Claude. Langboat denied it.",
    ):
        doc = analyzer.pipelines[Language.EN](text)
        assert next(iter(doc._.sw_units)).owners == {"lexquill": frozenset({"langboat"})}, text
