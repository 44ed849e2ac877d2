"""Claim extraction on real-looking sentences in both languages and both Chinese scripts."""

from __future__ import annotations

import pytest

from shellwatch.domain import ClaimType, Language, Stance


def claims_of(analyzer, text):
    return {
        (c.subject or c.subject_name, c.type.value, c.stance.value, c.object)
        for c in analyzer.analyze(text).claims
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # simplified, traditional and English wording of the same allegation
        (
            "零一万物的Yi-34B被指沿用了Llama的架构，只是将两个张量改名。",
            ("yi-34b", "llama_based", "allegation", "llama"),
        ),
        (
            "零一萬物的Yi-34B被指沿用了Llama的架構，只是將兩個張量改名。",
            ("yi-34b", "llama_based", "allegation", "llama"),
        ),
        # Read as analysis from the 2,199-example retrain until the 3,268-example one.
        (
            "Yi-34B was accused of copying Meta's Llama architecture.",
            ("yi-34b", "llama_based", "allegation", "llama"),
        ),
        # negation by the accused is a denial of that type
        (
            "字节跳动强调，豆包大模型的训练数据中没有使用任何OpenAI模型生成的数据。",
            ("doubao", "api_distilled", "denial", "openai"),
        ),
        (
            "ByteDance said Doubao was not trained on OpenAI outputs.",
            ("doubao", "api_distilled", "denial", "openai"),
        ),
        # admission
        (
            "MedAxis later confirmed that the model is a fine-tune of Llama 2.",
            ("MedAxis", "fine_tuned", "admission", "llama-2"),
        ),
        # the party's own statement
        (
            "百川智能创始人王小川表示，Baichuan 2系列是百川从头训练的。",
            ("baichuan-2", "self_developed", "self_claim", None),
        ),
        # an unknown model is still a subject, reported unlinked
        ("网友发现，星河-34B直接调用OpenAI接口。", ("星河-34B", "api_wrapper", "allegation", "openai")),
        # a third party clearing the subject is analysis
        (
            "There is no evidence that Doubao was trained on OpenAI outputs, an analyst said.",
            ("doubao", "api_distilled", "analysis", "openai"),
        ),
    ],
)
def test_claim(analyzer, text, expected):
    assert expected in claims_of(analyzer, text)


def test_history_is_not_a_claim(analyzer):
    assert analyzer.analyze("Llama 2's SwiGLU was inspired by PaLM.").claims == []
    assert analyzer.analyze("ERNIE受到BERT的启发，基于Transformer架构。").claims == []


def test_subject_carried_from_an_earlier_sentence(analyzer):
    analysis = analyzer.analyze(
        "零一万物上周发布了Yi-34B。有开发者在Hugging Face上指出，该模型与Llama的张量只是被改名。"
    )
    assert ("yi-34b", "llama_based", "allegation", "llama") in {
        (c.subject, c.type.value, c.stance.value, c.object) for c in analysis.claims
    }


def test_claim_fields_follow_the_domain(analyzer):
    analysis = analyzer.analyze("Foo-34B is a thin wrapper around the OpenAI API, users found.")
    claim = analysis.claims[0]
    assert claim.type is ClaimType.API_WRAPPER and claim.depth == 1
    assert claim.stance is Stance.ALLEGATION
    assert claim.subject is None and claim.subject_name == "Foo-34B"
    assert claim.evidence == "Foo-34B is a thin wrapper around the OpenAI API, users found."
    assert 0 < claim.confidence <= 1
    unknown = [e for e in analysis.entities if not e.linked]
    assert [(e.name, e.id) for e in unknown] == [("Foo-34B", None)]
    assert analysis.language is Language.EN and analysis.relevant


def test_unknown_chinese_model_name_is_an_unlinked_entity(analyzer):
    analysis = analyzer.analyze("某公司推出了天穹大模型，号称完全自研。")
    assert ("天穹大模型", False) in {(e.name, e.linked) for e in analysis.entities}


def test_claims_are_merged_per_subject(analyzer):
    text = (
        "Yi-34B was accused of copying Llama. Critics also accused Yi-34B of copying Llama, researchers said."
    )
    claims = analyzer.analyze(text).claims
    keys = [(c.subject, c.type, c.object, c.stance) for c in claims]
    assert len(keys) == len(set(keys))
    assert ("yi-34b", ClaimType.LLAMA_BASED, "llama", Stance.ALLEGATION) in keys


def test_irrelevant_news_has_no_claims(analyzer):
    analysis = analyzer.analyze("百度发布了新款手机，售价3999元。The chip maker's shares rose 5% on Tuesday.")
    assert analysis.claims == [] and not analysis.relevant


@pytest.mark.parametrize(
    "text",
    [
        # nobody responded: neither a denial nor a self-claim
        "截至发稿，零一万物尚未就Yi-34B是否套壳Llama作出正式回应。",
        "Google declined to comment on why Gemini identified itself as Baidu's ERNIE Bot.",
        # how one tells in general: about any model
        "判断一个模型是否从零训练，关键要看训练数据、训练过程以及权重本身的相似度。",
    ],
)
def test_sentences_that_report_no_claim(analyzer, text):
    assert claims_of(analyzer, text) == set()


def test_a_cue_overlapping_a_longer_anchor_is_found(analyzer):
    # the anchor "trained from" must not hide "from scratch"
    found = claims_of(
        analyzer, "DeepSeek says DeepSeek-V3 was pre-trained from scratch on 14.8 trillion tokens."
    )
    assert ("deepseek-v3", "self_developed", "self_claim", None) in found


def test_allegation_and_response_in_one_sentence(analyzer):
    found = claims_of(
        analyzer,
        "Some commentators called Kimi K2 a copy of DeepSeek-V3, but Moonshot AI says the model was "
        "trained from scratch on 15.5 trillion tokens.",
    )
    stances = {(subject, stance) for subject, _, stance, _ in found}
    assert ("kimi-k2", "self_claim") in stances


def test_analysts_comment_rather_than_accuse(analyzer):
    found = claims_of(
        analyzer, "分析人士认为，Gemini自称文心一言，更可能是训练语料中混入了网络上的文心一言对话。"
    )
    assert found and all(stance == "analysis" for _, _, stance, _ in found)


def units_of(analyzer, text, language=Language.EN):
    return analyzer.pipelines[language](text)._.sw_units


def test_a_speaker_in_mid_sentence_is_read_without_quotes_and_adverbs(analyzer):
    [unit] = units_of(
        analyzer, "'Quillmind does not send your drafts to OpenAI,' the company's privacy page says."
    )
    assert unit.speaker == "the company's privacy page"
    # a name right after an opening quote is a name the finders may have missed
    assert "Quillmind" in {o.mention.name for o in analyzer.resources.claims.subject_options(unit)}
    [unit] = units_of(analyzer, "Parents had discovered that the bot was a thin prompt on ChatGPT.")
    assert unit.speaker == "Parents"


def test_the_owner_of_a_speaking_developer_is_a_party(analyzer):
    [unit] = units_of(
        analyzer, "速記鴨的開發者在論壇上坦言：產品就是把文字丟給GPT-4o總結，沒有自己的模型。", Language.ZH
    )
    options = {o.mention.name: o.origin for o in analyzer.resources.claims.subject_options(unit)}
    assert options.get("速記鴨") == "speaker"


def test_a_partys_own_staff_speak_for_it(analyzer):
    [unit] = units_of(analyzer, "Its engineers say Harrier-7B was trained on GPT-4 answers.")
    [found] = [f for f in unit.rule_claims if f.claim.type is ClaimType.API_DISTILLED]
    assert found.party == "self"


def test_the_source_named_away_from_the_cue_is_the_object(analyzer):
    extractor = analyzer.resources.claims
    [unit] = units_of(
        analyzer, "'Strip away the new name and it is Yi-34B,' an ML engineer said of Lyra-34B."
    )
    [option] = [o for o in extractor.subject_options(unit) if o.mention.name == "Lyra-34B"]
    assert extractor.unit_claim(unit, ClaimType.LLAMA_BASED, option).claim.object == "yi-34b"


def _parties(analyzer, text):
    """The party the rules read for each claim type of the document's units."""
    return {
        found.claim.type: found.party
        for unit in units_of(analyzer, text)
        for found in unit.rule_claims
        if found.claim.subject == "bytedance" or found.claim.subject_name == "Nebula-7B"
    }


def test_a_speaker_named_by_role_speaks_for_the_party_of_the_sentence_before(analyzer):
    # OpenAI's spokesperson on ByteDance is a third party, not ByteDance conceding.
    parties = _parties(
        analyzer,
        "OpenAI confirmed on Friday that it had suspended the account. A spokesperson said that "
        "ByteDance's use of OpenAI's API to train its own model was minimal.",
    )
    assert parties and set(parties.values()) == {"third"}
    # The accused named before (and the source's maker beside it): the spokesperson is its own.
    parties = _parties(
        analyzer,
        "Users accused Nebula-7B of being built on Meta's Llama 2. A spokesperson said the model "
        "was not built on Llama 2.",
    )
    assert parties and set(parties.values()) == {"self"}


def test_a_headline_turns_to_another_party_at_after(analyzer):
    units = units_of(
        analyzer,
        "01.AI says Yi-34B was trained from scratch after developers spot Llama's architecture "
        "under renamed tensors.",
    )
    assert [u.original.strip()[:24] for u in units] == [
        "01.AI says Yi-34B was tr",
        "after developers spot Ll",
    ]
    assert not any(
        f.claim.type is ClaimType.LLAMA_BASED and f.claim.speaker == "01.AI"
        for u in units
        for f in u.rule_claims
    )


@pytest.mark.parametrize(
    ("text", "speaker", "party"),
    [
        (
            "'We used Qwen's tokenizer and architecture for Tianlu-7B,' said a spokesperson for Tianlu AI.",
            "Tianlu AI",
            "self",
        ),
        (
            "“It is a thin wrapper on GPT-4,” said one engineer who tested Quillbot-9.",
            "one engineer",
            "third",
        ),
        ("Tianlu-7B, said a spokesperson, was never trained on GPT-4 outputs.", "a spokesperson", "self"),
        ("对于外界质疑，奥林科技相关负责人对记者表示，奥林-34B并未使用Llama 2的权重。", "奥林科技", "self"),
    ],
)
def test_the_speaker_after_its_verb_or_a_topic_phrase(analyzer, text, speaker, party):
    language = Language.ZH if "奥林" in text else Language.EN
    [unit] = units_of(analyzer, text, language)
    assert unit.speaker == speaker
    assert {f.party for f in unit.rule_claims} == {party}


def test_he_or_she_speaks_for_the_speaker_named_before(analyzer):
    units = units_of(
        analyzer,
        "Mara Holt, Kinglet's founder, said the claims were false. The model, she said, was not "
        "fine-tuned from Qwen or any other open checkpoint.",
    )
    assert [f.party for f in units[-1].rule_claims] == ["self"]
    units = units_of(
        analyzer,
        "Researcher Tom Vale said he had compared the checkpoints of Kinglet-7B. Kinglet-7B, he said, "
        "was fine-tuned from Qwen2.",
    )
    assert [f.party for f in units[-1].rule_claims] == ["third"]
    units = units_of(
        analyzer, "星河科技创始人王敏表示网上传言不实。她表示，星河-34B并未使用Llama 2的权重。", Language.ZH
    )
    assert units[-1].speaker == "她" and [f.party for f in units[-1].rule_claims] == ["self"]


def test_an_allegation_and_the_accused_answer_in_one_chinese_sentence_are_two_clauses(analyzer):
    units = units_of(analyzer, "零一万物被指Yi-34B套壳Llama，公司回应称并非套壳。", Language.ZH)
    assert [u.original for u in units] == ["零一万物被指Yi-34B套壳Llama，", "公司回应称并非套壳。"]
    # the same speaker going on ("…，但否认…") stays one clause
    units = units_of(analyzer, "星河科技承认部分数据来自GPT-4，但否认套壳。", Language.ZH)
    assert len(units) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Greyling Chat runs Qwen2.5-72B on its own servers and adds a persona prompt, the startup's engineering blog explains.",
        "谈到“小暑日记”的实现，其独立开发者在即刻上大方承认：这就是一段提示词加GPT-4o mini，没有任何训练。",
    ],
)
def test_a_partys_own_documents_and_people_speak_for_it(analyzer, text):
    language = Language.ZH if "小暑" in text else Language.EN
    [unit] = units_of(analyzer, text, language)
    assert unit.rule_claims and {f.party for f in unit.rule_claims} == {"self"}
