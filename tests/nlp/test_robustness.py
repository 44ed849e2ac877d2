"""Bad input never crashes the analyzer and is handled in bounded time, with a clear result."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import pytest

from nlp.claims import load_claim_lexicon
from nlp.pipeline import BACKGROUND_LEDE, CERTAIN_BACKGROUND_LEDE, Analyzer
from nlp.script import fold
from shellwatch.config import PACKAGE_ROOT
from shellwatch.domain import Article, Language

DATA = PACKAGE_ROOT / "tests" / "data" / "nlp"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "。，！？……——",
        "!!!???...",
        "🤖🔥💯 😀😀",
        "\x00\x01\x02\ufffd",
        "<",
        "<<>>",
        "</p></div>",
        "\ud800 lone surrogate",
    ],
)
def test_degenerate_inputs_give_an_empty_irrelevant_analysis(analyzer, text):
    analysis = analyzer.analyze(text)
    assert analysis.claims == []
    assert analysis.relevant is False
    assert analysis.language in (Language.ZH, Language.EN)


def test_binary_garbage_is_noted_and_irrelevant(analyzer):
    garbage = os.urandom(50_000)
    analysis = analyzer.analyze(garbage)
    assert analysis.relevant is False
    assert any("binary" in note for note in analysis.notes)


def test_html_fragment_is_stripped(analyzer):
    html = (
        "<div class='post'><script>var x = '被指套壳';</script><style>p{}</style>"
        "<p>网友发现，<b>星河-34B</b>直接调用OpenAI接口。</p></div>"
    )
    analysis = analyzer.analyze(html)
    assert "HTML markup removed" in analysis.notes
    assert [(c.subject_name, c.type.value, c.stance.value) for c in analysis.claims] == [
        ("星河-34B", "api_wrapper", "allegation")
    ]
    assert all("var x" not in c.evidence for c in analysis.claims)


def test_five_megabytes_are_cut_with_a_note_in_bounded_time(analyzer):
    paragraph = "零一万物被指Yi-34B套壳Llama，公司回应称并非套壳。Some English text about Llama and GPT-4 outputs. 😀\n"
    text = paragraph * (5_000_000 // len(paragraph) + 1)
    started = time.perf_counter()
    analysis = analyzer.analyze(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 20
    assert any(note.startswith("input cut at") for note in analysis.notes)
    assert analysis.relevant
    assert any(c.subject == "yi-34b" for c in analysis.claims)


def test_mixed_scripts_and_emoji(analyzer):
    text = "🔥 Yi-34B 被質疑 based on Llama!! 零一万物否认套壳 😀 字節跳動 / ByteDance"
    analysis = analyzer.analyze(text)
    ids = {e.id for e in analysis.entities}
    assert {"yi-34b", "llama", "01-ai", "bytedance"} <= ids


def test_bytes_in_gb18030_and_big5_are_decoded(analyzer):
    simplified = "零一万物被指Yi-34B套壳Llama。".encode("gb18030")
    traditional = "零一萬物被指Yi-34B套殼Llama。".encode("big5")
    for data in (simplified, traditional):
        analysis = analyzer.analyze(data)
        assert {"01-ai", "yi-34b", "llama"} <= {e.id for e in analysis.entities}


def test_analyze_article_uses_title_and_publication_date(analyzer):
    article = Article(
        url="https://example.com/a",
        canonical_url="https://example.com/a",
        source="example",
        language=Language.ZH,
        title="零一万物Yi-34B被指套壳Llama",
        text="上周，有开发者在Hugging Face上指出两个张量被改名。",
        published_at=datetime(2023, 11, 20, 8, 0, tzinfo=UTC),
        fetched_at=datetime(2023, 11, 20, 9, 0, tzinfo=UTC),
    )
    analysis = analyzer.analyze_article(article)
    assert analysis.relevant
    assert analysis.event_dates == ["2023-11-13"]
    assert any(c.subject == "yi-34b" and c.object == "llama" for c in analysis.claims)


def test_many_articles_batched_keep_their_order(analyzer):
    texts = ["Yi-34B is based on Llama, researchers found.", "", "百度发布了新手机。"] * 40
    analyses = list(analyzer.analyze_many((t, None, None, None) for t in texts))
    assert len(analyses) == 120
    assert [a.language for a in analyses[:3]] == [Language.EN, Language.EN, Language.ZH]
    assert analyses[0].claims and not analyses[1].claims and not analyses[2].claims


def test_a_page_without_sentence_ends_stays_fast(analyzer):
    # 200,000 characters in one "sentence", full of names and cues: must not go quadratic.
    text = "零一万物被指套壳Llama并且调用OpenAI接口训练" * 8000 + " Yi-34B uses Llama weights" * 2000
    started = time.perf_counter()
    analysis = analyzer.analyze(text)
    assert time.perf_counter() - started < 20
    assert analysis.claims


OFFICE_NEWS = " ".join(f"The company opened office number {i} in Singapore." for i in range(7))
BURIED_ALLEGATION = "A Hugging Face user alleged that Moonshot AI's Kimi is a wrapper of Claude."


def test_a_long_article_about_something_else_is_not_read_for_claims(kb, analyzer):
    # The price of the speed-up (BENCHMARKS.md, "NLP: speed"): an allegation deep in a funding
    # story is not extracted; the same article with every clause read has it.
    text = f"Moonshot AI raised $1 billion in a new funding round. {OFFICE_NEWS} {BURIED_ALLEGATION}"
    assert analyzer.analyze(text).claims == []
    every_clause = Analyzer(kb, background_lede=None)
    assert [(c.subject, c.type.value) for c in every_clause.analyze(text).claims] == [("kimi", "api_wrapper")]


def test_a_long_article_with_a_provenance_lede_is_read_for_claims(analyzer):
    text = f"Moonshot AI's Kimi is accused of being a wrapper of Claude. {OFFICE_NEWS} {BURIED_ALLEGATION}"
    assert [(c.subject, c.type.value) for c in analyzer.analyze(text).claims] == [("kimi", "api_wrapper")]


def test_a_short_text_is_read_for_claims_whatever_its_lede(analyzer):
    text = f"Moonshot AI raised $1 billion in a new funding round. {BURIED_ALLEGATION}"
    assert [(c.subject, c.type.value) for c in analyzer.analyze(text).claims] == [("kimi", "api_wrapper")]


CUE_TEXTS = [
    "It didn't use Llama; the model was trained from scratch, not fine-tuned.",
    "Answers were relayed requests to the OpenAI API, with GPT-4-generated data.",
    "The startup denied the so-called wrapper claims -- no evidence of renamed tensors.",
]


def test_cue_scans_of_ascii_text_find_what_the_trie_finds():
    # ASCII text finds its cue anchors through its words (CueSet), other text through a trie:
    # the same text with a character no anchor holds appended takes the trie's path.
    lexicon = load_claim_lexicon()
    examples = [json.loads(line) for line in (DATA / "dev.jsonl").read_text(encoding="utf-8").splitlines()]
    texts = CUE_TEXTS + [fold(e["text"]) for e in examples if e["language"] == "en"]
    assert sum(text.isascii() for text in texts) > 50
    for cues in (lexicon.sentence_cues, lexicon.decisive_cues, lexicon.weak_cues, lexicon.third_parties):
        for text in texts:
            assert cues.anchor_positions(text) == cues.anchor_positions(text + "\u2603")
            every_pattern = sorted(
                (index, match.span())
                for index, (_, pattern) in enumerate(cues._patterns)
                for match in pattern.finditer(text)
            )
            found = [(label, match.span()) for label, match in cues.finditer(text)]
            assert found == [(cues._patterns[index][0], span) for index, span in every_pattern]


def test_no_relevant_dev_example_as_a_lede_makes_an_article_background(analyzer):
    # BACKGROUND_LEDE was chosen under these scores; a retrained classifier must keep them above
    # it (or give the rules a cue to read), or long articles that open like these would lose their
    # claims.
    examples = [json.loads(line) for line in (DATA / "dev.jsonl").read_text(encoding="utf-8").splitlines()]
    for language in Language:
        texts = [e["text"] for e in examples if e["relevant"] and e["language"] == language.value]
        pipeline = analyzer.pipelines[language]
        extractor = pipeline.get_pipe("shellwatch_claims").extractor
        for text, doc in zip(texts, pipeline.pipe(texts), strict=True):
            if doc._.sw_relevance < BACKGROUND_LEDE:
                # Below it, only a lede the claim rules would read is spared; below
                # CERTAIN_BACKGROUND_LEDE only one with a strong cue beside a known name.
                lede = doc._.sw_sentences[:1]
                assert extractor.candidate_sentences(doc._.sw_folded, lede, doc._.sw_mentions), text
                if doc._.sw_relevance < CERTAIN_BACKGROUND_LEDE:
                    assert extractor.strongly_cued(doc._.sw_folded, lede[0], doc._.sw_mentions), text


def test_a_long_article_opening_with_a_response_keeps_its_claims(analyzer):
    # The lede scores 0.16 with the classifier trained on 3,268 examples: below BACKGROUND_LEDE,
    # spared by its cue (沿用 beside LLaMA).
    lede = (
        "零一万物回应称，Yi-34B在训练过程中沿用了GPT/LLaMA的基本架构，对部分推理参数进行了重新命名，"
        "这是团队在实验中的疏忽，将尽快完成代码更新。"
    )
    filler = "".join(f"第{n}段介绍了公司的融资与招聘计划。" for n in range(8))
    analysis = analyzer.analyze(lede + filler)
    assert any(c.subject == "yi-34b" and c.type.value == "llama_based" for c in analysis.claims), (
        analysis.claims
    )
