"""A Latin name ends a word; when the longest name does not, the matcher backs off to a shorter one."""

from __future__ import annotations

import pytest

from nlp.matching import NameMatcher


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
