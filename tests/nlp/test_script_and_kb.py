"""Script normalisation and the knowledge base: real names in every script."""

from __future__ import annotations

import re
from pathlib import Path

import opencc
import pytest

from nlp.knowledge_base import KnowledgeBaseError, load_knowledge_base, name_key
from nlp.script import detect_script, fold, to_simplified

DATA = Path(__file__).resolve().parent.parent / "data" / "nlp"


@pytest.fixture(scope="module")
def kb():
    return load_knowledge_base(DATA / "kb_small.yaml")


def test_to_simplified_matches_opencc_on_names_and_keeps_length():
    text = "零一萬物被質疑套殼，字節跳動回應稱並非如此。通義千問"
    converted = to_simplified(text)
    assert converted == "零一万物被质疑套壳，字节跳动回应称并非如此。通义千问"
    assert converted == opencc.OpenCC("t2s").convert(text)
    assert len(converted) == len(text)


def test_fold_is_length_preserving_and_width_and_case_insensitive():
    text = "ＬＬａＭＡ　２ 與 GPT－4"
    assert fold(text) == "llama 2 与 gpt-4"
    assert len(fold(text)) == len(text)


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("零一万物被质疑套壳", "hans"),
        ("零一萬物被質疑套殼", "hant"),
        ("Yi-34B is based on Llama", "latin"),
        ("", "latin"),
    ],
)
def test_detect_script(text, script):
    assert detect_script(text) == script


@pytest.mark.parametrize(
    ("name", "entity_id"),
    [
        ("LLaMA", "llama"),
        ("Llama2", "llama-2"),
        ("Llama 2", "llama-2"),
        ("llama-2", "llama-2"),
        ("零一萬物", "01-ai"),
        ("零一万物", "01-ai"),
        ("01.ai", "01-ai"),
        ("ＯｐｅｎＡＩ", "openai"),
        ("yi-34b", "yi-34b"),
        ("通義千問", "qwen"),
        ("kai-fu-lee", "kai-fu-lee"),
    ],
)
def test_resolve_any_spelling(kb, name, entity_id):
    assert kb.resolve(name).id == entity_id


def test_resolve_unknown_is_none(kb):
    assert kb.resolve("Foo-34B") is None
    assert kb.resolve("   ") is None


def test_models_and_developers(kb):
    assert [m.id for m in kb.models_of("meta")] == ["llama", "llama-2"]
    assert kb.developer_of("yi-34b").id == "01-ai"
    assert kb.developer_of("01-ai") is None
    assert kb.people_of("01-ai")[0].id == "kai-fu-lee"
    assert kb.same_party("kai-fu-lee", "yi-34b")
    assert not kb.same_party("yi-34b", "llama")


def test_name_key_drops_separators():
    assert name_key("Llama 2") == name_key("LLAMA-2") == name_key("llama_2") == "llama2"


def test_bad_files_fail_with_a_clear_message(tmp_path):
    bad = tmp_path / "kb.yaml"
    bad.write_text("entities:\n  - {id: x, name: X, type: planet}\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="entity x"):
        load_knowledge_base(bad)
    bad.write_text("entities:\n  - {id: m, name: M, type: model, developer: nobody}\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="nobody"):
        load_knowledge_base(bad)
    bad.write_text(
        "entities:\n  - {id: a, name: A, type: org}\n  - {id: a, name: B, type: org}\n", encoding="utf-8"
    )
    with pytest.raises(KnowledgeBaseError, match="duplicate"):
        load_knowledge_base(bad)
    with pytest.raises(KnowledgeBaseError, match="cannot read"):
        load_knowledge_base(tmp_path / "missing.yaml")
    bad.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="entities"):
        load_knowledge_base(bad)


@pytest.mark.parametrize(
    ("entry", "pattern"),
    [("topic_openings", "[对于"), ("turn_openings", "(after"), ("person_pronouns", "he)")],
)
def test_a_bad_lexicon_pattern_outside_the_cues_names_the_file_and_pattern(tmp_path, entry, pattern):
    import yaml

    from nlp.claims import LEXICON_FILE, load_claim_lexicon

    data = yaml.safe_load(LEXICON_FILE.read_text(encoding="utf-8"))
    data[entry] = [pattern]
    bad = tmp_path / "claims.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match=rf"claims\.yaml: bad pattern .*{re.escape(pattern)}"):
        load_claim_lexicon(bad)
