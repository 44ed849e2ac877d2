"""Tokenisation: the same cut at index and query time, scripts and widths folded, bigrams for Han."""

from __future__ import annotations

from search.text import bigrams, fold, index_form, tokens


def test_traditional_and_simplified_index_identically() -> None:
    assert tokens("零一萬物") == tokens("零一万物") == ["零一", "一万", "万物"]


def test_han_runs_become_overlapping_bigrams_and_latin_words_stay_whole() -> None:
    assert tokens("Yi-34B被指套殼Llama") == ["yi", "34b", "被指", "指套", "套壳", "llama"]
    assert bigrams("壳") == ["壳"]


def test_full_width_and_case_are_folded() -> None:
    assert fold("ＧＰＴ－４") == "gpt-4"
    assert tokens("ＬＬａＭＡ") == ["llama"]


def test_index_form_separates_han_from_latin() -> None:
    assert index_form("基于Llama架构").split() == ["基于", "llama", "架构"]
    assert index_form("Yi-34B被指").split() == ["yi-34b", "被指"]


def test_punctuation_splits_chinese_runs() -> None:
    assert tokens("回应：并非套壳。") == ["回应", "并非", "非套", "套壳"]
