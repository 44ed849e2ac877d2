"""Where names begin and end: a Latin name ends a word (the matcher backs off to a shorter name when
the longest does not), and an unknown Chinese model name does not swallow the verb before it."""

from __future__ import annotations

import pytest

from nlp.matching import NameMatcher, UnknownModelFinder


@pytest.fixture(scope="module")
def matcher(kb) -> NameMatcher:  # noqa: ANN001 - the conftest's knowledge base
    return NameMatcher(kb)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Users found a Doubao prompt that names its rules.",
            [("Doubao", "doubao")],
        ),  # not "Doubao Pro"+"mpt"
        ("Doubao-pro is ByteDance's model.", [("Doubao-pro", "doubao"), ("ByteDance", "bytedance")]),
        ("The yield of Yi-34B", [("Yi-34B", "yi-34b")]),  # no "Yi" inside "yield"
        ("AGLM is not GLM-4", [("GLM-4", "glm-4")]),
        ("GPT-4omni is not a model; GPT-4o is", [("GPT-4o", "gpt-4o")]),
        ("零一萬物的Yi-34B", [("零一萬物", "01-ai"), ("Yi-34B", "yi-34b")]),
    ],
)
def test_names_are_whole_words(matcher: NameMatcher, text: str, expected: list[tuple[str, str]]) -> None:
    assert [(m.surface, m.entity_id) for m in matcher.find(text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("有开发者发现星河-34B模型沿用了Llama的架构。", ["星河-34B"]),
        ("網友質疑這款康語-13B套殼，稱對智投-7B也一樣。", ["康語-13B", "智投-7B"]),
        ("有道-7B和用友-13B都是國產模型。", ["有道-7B", "用友-13B"]),  # brands that start with 有 / 用
        # The leading word ends inside the run of characters matched ("否认观星", "体称延河").
        ("星图科技否认观星-70B套壳Llama。", ["观星-70B"]),
        ("有媒体称延河-13B套壳Llama，該公司承認平江-34B基於Llama。", ["延河-13B", "平江-34B"]),
        ("有人说包河-34B只是换皮。", ["包河-34B"]),
        ("网友称天为-13B套壳。", ["天为-13B"]),  # two characters of name stay, though 为 leads too
    ],
)
def test_an_unknown_chinese_name_does_not_swallow_the_verb_before_it(
    kb, text: str, expected: list[str]
) -> None:  # noqa: ANN001
    found = UnknownModelFinder(kb).find(text, NameMatcher(kb).find(text))
    assert [m.surface for m in found] == expected
    assert all(text[m.start : m.end] == m.surface for m in found)
