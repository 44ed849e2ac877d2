"""The query parser: good queries become the expected tree, malformed ones a pointed QueryError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from search.backends.base import QueryError
from search.query import And, DepthRange, Filter, Not, Or, Phrase, Term, describe_error, parse_query
from shellwatch.domain import ClaimType, Language, Stance


def test_words_are_anded_and_phrases_kept_whole() -> None:
    root = parse_query('零一萬物 "based on Llama"').root
    assert root == And((Term("零一萬物", 0), Phrase("based on Llama", 5)))


def test_operator_precedence_not_binds_tighter_than_and_tighter_than_or() -> None:
    root = parse_query("a OR b c NOT d").root
    assert root == Or((Term("a", 0), And((Term("b", 5), Term("c", 7), Not(Term("d", 13))))))


def test_parentheses_and_minus_shorthand() -> None:
    root = parse_query("(a OR b) AND -c").root
    assert root == And((Or((Term("a", 1), Term("b", 6))), Not(Term("c", 14))))
    assert parse_query("Yi-34B").root == Term("Yi-34B", 0)  # an inner hyphen is part of the word


def test_lowercase_operators_are_words_and_prefix_terms() -> None:
    assert parse_query("and or").root == And((Term("and", 0), Term("or", 4)))
    assert parse_query("distill*").root == Term("distill", 0, prefix=True)


def test_filters_are_normalised() -> None:
    root = parse_query('entity:"Zhipu AI" type:Llama-Based stance:DENIAL lang:ZH source:36kr depth:<=2').root
    assert isinstance(root, And)
    values = {f.name: f.value for f in root.children if isinstance(f, Filter)}
    assert values == {
        "entity": "Zhipu AI",
        "type": ClaimType.LLAMA_BASED,
        "stance": Stance.DENIAL,
        "lang": Language.ZH,
        "source": "36kr",
        "depth": DepthRange(1, 2),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", DepthRange(3, 3)),
        ("=3", DepthRange(3, 3)),
        ("<3", DepthRange(1, 2)),
        (">=4", DepthRange(4, 5)),
        (">1", DepthRange(2, 5)),
        ("2..4", DepthRange(2, 4)),
    ],
)
def test_depth_comparisons(text: str, expected: DepthRange) -> None:
    assert parse_query(f"depth:{text}").root.value == expected


@pytest.mark.parametrize(
    ("text", "bound"),
    [
        ("from:2023", datetime(2023, 1, 1, tzinfo=UTC)),
        ("from:2023-11", datetime(2023, 11, 1, tzinfo=UTC)),
        ("to:2023-12", datetime(2024, 1, 1, tzinfo=UTC)),
        ("to:2023-12-31", datetime(2024, 1, 1, tzinfo=UTC)),
        ("to:2023", datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
def test_date_bounds_to_is_inclusive(text: str, bound: datetime) -> None:
    assert parse_query(text).root.value == bound


def test_empty_query_and_urls() -> None:
    assert parse_query("").root is None
    assert parse_query("   ").root is None
    assert parse_query("https://example.com/x").root == Term("https://example.com/x", 0)


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("llama AND", 6, "'AND' needs a term after it"),
        ("OR llama", 0, "'OR' needs a term before it"),
        ("llama OR OR gpt", 6, "'OR' needs a term after it"),
        ("NOT", 0, "'NOT' needs a term after it"),
        ("(llama", 0, "unbalanced '('"),
        ("llama)", 5, "unbalanced ')'"),
        ("()", 0, "empty parentheses"),
        ('say "hello', 4, "unterminated quote"),
        ('""', 0, "empty quoted phrase"),
        ("type:distilled", 5, "unknown claim type 'distilled'"),
        ("stance:maybe", 7, "unknown stance"),
        ("lang:fr", 5, "unknown language"),
        ("depth:9", 6, "depth must be a number from 1 to 5"),
        ("depth:4..2", 6, "is empty"),
        ("from:last-week", 5, "is not a date"),
        ("to:9999", 3, "the year must be from 1900 to 2999"),
        ("llama from:0999-01", 11, "the year must be from 1900 to 2999"),
        ("entity:", 7, "'entity:' needs a value"),
        ("colour:red", 0, "unknown filter 'colour:'"),
        ("!!!", 0, "is not a word"),
    ],
)
def test_malformed_queries_point_at_the_problem(query: str, position: int, message: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(query)
    assert info.value.position == position
    assert message in str(info.value)


def test_describe_error_draws_a_caret_under_the_problem_even_after_wide_characters() -> None:
    query = "零一万物 AND"
    with pytest.raises(QueryError) as info:
        parse_query(query)
    lines = describe_error(query, info.value).splitlines()
    assert lines[1] == "  零一万物 AND"
    assert lines[2] == "  " + " " * 9 + "^"


def test_positive_text_skips_negated_terms() -> None:
    assert parse_query('a "b c" NOT d (e OR -f) entity:x').positive_text() == ["a", "b c", "e"]
