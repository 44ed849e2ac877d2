"""The query syntax compiled to Elasticsearch DSL (no server needed): the request bodies we send."""

from __future__ import annotations

from search.backends.elasticsearch import TEXT_FIELDS, _Compiler
from search.query import parse_query


def compile_query(kb, text: str) -> dict:
    return _Compiler(kb).compile(parse_query(text))


def test_empty_query_matches_all(kb) -> None:
    assert compile_query(kb, "") == {"match_all": {}}


def test_words_are_folded_phrases_over_the_text_fields(kb) -> None:
    assert compile_query(kb, "零一萬物") == {
        "multi_match": {"query": "零一万物", "fields": TEXT_FIELDS, "type": "phrase"}
    }
    assert compile_query(kb, "ＬＬａＭＡ*")["multi_match"]["type"] == "phrase_prefix"


def test_sibling_claim_filters_share_one_nested_claim(kb) -> None:
    body = compile_query(kb, "llama type:llama_based stance:denial depth:<=5")
    nested = [c for c in body["bool"]["must"] if "nested" in c]
    assert len(nested) == 1
    assert nested[0]["nested"]["path"] == "claims"
    assert nested[0]["nested"]["query"]["bool"]["filter"] == [
        {"term": {"claims.type": "llama_based"}},
        {"term": {"claims.stance": "denial"}},
        {"range": {"claims.depth": {"gte": 1, "lte": 5}}},
    ]


def test_entity_filter_expands_a_company_to_its_models(kb) -> None:
    assert compile_query(kb, "entity:百度") == {"terms": {"entities": ["baidu", "ernie-bot"]}}


def test_boolean_structure_dates_language_and_source(kb) -> None:
    body = compile_query(kb, '(a OR "b c") -d lang:zh source:"The Verge" from:2023-11 to:2023-11')
    must = body["bool"]["must"]
    assert must[0]["bool"]["minimum_should_match"] == 1 and len(must[0]["bool"]["should"]) == 2
    assert must[1] == {
        "bool": {"must_not": [{"multi_match": {"query": "d", "fields": TEXT_FIELDS, "type": "phrase"}}]}
    }
    assert {"term": {"language": "zh"}} in must
    assert {"term": {"source.lower": "the verge"}} in must
    assert {"range": {"published_at": {"gte": "2023-11-01T00:00:00Z"}}} in must
    assert {"range": {"published_at": {"lt": "2023-12-01T00:00:00Z"}}} in must
