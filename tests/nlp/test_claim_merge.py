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
    assert speaker("零一万物", "零一万物回应称，…") == "零一万物"
