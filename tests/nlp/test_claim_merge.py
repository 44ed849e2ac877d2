"""An article reports each allegation once: a mention without the object joins the one with it."""

from __future__ import annotations

from shellwatch.domain import ClaimType, Stance

# A syndicated copy as the e2e run's newsroom serves it: the title names no object, the text does.
# Two claims here meant two alerts for one allegation (alert keys include the object).
SYNDICATED = (
    "转载自科技报。 Karel-9B被指套壳Llama。第74号报道：社区开发者对权重文件进行了逐层比对，"
    "并在论坛公开了第74版比对脚本。该公司发言人表示将于下周说明情况，编号74。"
)


def test_title_without_object_joins_the_claim_that_names_it(analyzer):
    analysis = analyzer.analyze(SYNDICATED, title="【转载】开发者质疑Karel-9B的来源")
    allegations = [
        c for c in analysis.claims if c.type is ClaimType.LLAMA_BASED and c.stance is Stance.ALLEGATION
    ]
    assert [(c.subject_name, c.object) for c in allegations] == [("Karel-9B", "llama")]
    assert "Llama" in allegations[0].evidence


def test_claims_naming_different_objects_stay_apart(analyzer):
    analysis = analyzer.analyze("Karel-9B被指套壳Llama。另有开发者称，Karel-9B其实套壳了Mistral。")
    objects = {c.object for c in analysis.claims if c.type is ClaimType.LLAMA_BASED}
    assert objects == {"llama", "mistral-ai"}, analysis.claims


def test_shown_speakers_drop_clause_rests_dates_and_broken_spans(analyzer):
    from shellwatch.domain import Claim

    shown = analyzer.resources.claims.lex.shown_speaker

    def speaker(said: str, evidence: str) -> str | None:
        claim = Claim(
            subject=None,
            subject_name="X",
            type=ClaimType.LLAMA_BASED,
            stance=Stance.ALLEGATION,
            speaker=said,
            evidence=evidence,
            confidence=0.5,
        )
        return shown.of(claim).speaker

    assert (
        speaker("英国《金融时报》当地时间1月29日报道", "据英国《金融时报》当地时间1月29日报道，…")
        == "英国《金融时报》"
    )
    assert speaker("报道", "报道称，X套壳。") is None
    assert speaker("他据此", "他据此认为，X套壳。") is None
    assert speaker("have", "Two students behind X, a model that went viral, have apologized.") is None
    assert (
        speaker(
            "tic data produced by others", "Nobody could rule out that synthetic data produced by others…"
        )
        is None
    )
    assert speaker("A spokesperson", "A spokesperson said X was built in-house.") == "A spokesperson"
    assert speaker("The company later", "The company later said X was built in-house.") == "The company"
    # An adverb read as the speaker stands for the short phrase before it.
    assert (
        speaker(
            "initially", "Quillbird's chief executive, Dana Whitfield, initially denied that X is a wrapper."
        )
        == "Quillbird's chief executive, Dana Whitfield"
    )
    assert (
        speaker("initially", "After weeks of questions from developers and users, it initially denied it.")
        is None
    )
    assert speaker("零一万物", "零一万物回应称，…") == "零一万物"


def _found(subject, object_, claim_type, stance, confidence, sentence=0):
    from nlp.claims import FoundClaim
    from shellwatch.domain import Claim

    claim = Claim(
        subject=subject,
        subject_name=subject,
        object=object_,
        type=claim_type,
        stance=stance,
        evidence=f"sentence {sentence}",
        confidence=confidence,
    )
    return FoundClaim(claim=claim, sentence=sentence)


def test_a_source_named_by_its_company_joins_the_claim_naming_the_model(kb):
    from nlp.claims import merge_claims

    claims = merge_claims(
        [
            _found("grok", "chatgpt", ClaimType.API_DISTILLED, Stance.DENIAL, 0.6, 0),
            _found("grok", "openai", ClaimType.API_DISTILLED, Stance.DENIAL, 0.8, 1),
            _found("llama3-v", "minicpm", ClaimType.LLAMA_BASED, Stance.ALLEGATION, 0.9, 2),
            _found("llama3-v", "minicpm-llama3-v-2-5", ClaimType.LLAMA_BASED, Stance.ALLEGATION, 0.5, 3),
            # Two models of one company are two sources ("distilled from GPT-4 and o1"): kept apart.
            _found("deepseek", "gpt-4", ClaimType.API_DISTILLED, Stance.ALLEGATION, 0.7, 4),
            _found("deepseek", "chatgpt", ClaimType.API_DISTILLED, Stance.ALLEGATION, 0.7, 5),
        ],
        kb,
    )
    by_subject = {}
    for claim in claims:
        by_subject.setdefault(claim.subject, set()).add(claim.object)
    assert by_subject == {
        "grok": {"chatgpt"},
        "llama3-v": {"minicpm-llama3-v-2-5"},
        "deepseek": {"gpt-4", "chatgpt"},
    }
    grok = next(c for c in claims if c.subject == "grok")
    assert grok.evidence == "sentence 0" and grok.confidence > 0.6  # the model's evidence, made stronger


def test_a_claim_reading_the_article_backwards_is_dropped(kb):
    from nlp.claims import merge_claims

    claims = merge_claims(
        [
            _found("yi-34b", "llama", ClaimType.LLAMA_BASED, Stance.SELF_CLAIM, 0.69, 0),
            _found("yi-34b", "llama", ClaimType.LLAMA_BASED, Stance.ALLEGATION, 0.62, 1),
            # "It apologized … would restore the Llama names": read backwards, about Llama, and
            # surer than either claim about Yi-34B, not than both together.
            _found("llama", "yi", ClaimType.LLAMA_BASED, Stance.ADMISSION, 0.88, 2),
            _found("llama", None, ClaimType.SELF_DEVELOPED, Stance.SELF_CLAIM, 0.8, 3),
        ],
        kb,
    )
    assert {(c.subject, c.object) for c in claims} == {("yi-34b", "llama")}
    assert len(claims) == 2


def test_the_stronger_direction_between_two_parties_stays(kb):
    from nlp.claims import merge_claims

    claims = merge_claims(
        [
            _found("baidu", "gemini", ClaimType.API_DISTILLED, Stance.ANALYSIS, 0.45, 0),
            _found("gemini", "ernie-bot", ClaimType.API_DISTILLED, Stance.ALLEGATION, 0.9, 1),
            _found("gpt-4", None, ClaimType.SELF_DEVELOPED, Stance.SELF_CLAIM, 0.7, 2),
        ],
        kb,
    )
    # Gemini from ERNIE Bot (Google from Baidu) is the surer reading; a claim about GPT-4, which
    # no claim here names as a source, stays.
    assert {(c.subject, c.object) for c in claims} == {("gemini", "ernie-bot"), ("gpt-4", None)}
