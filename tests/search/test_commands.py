"""The search commands end to end: the real CLI, the configured (SQLite) store, the real knowledge base."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from search import open_store
from search.incidents import assign_incidents
from shellwatch.cli import cli
from tests.search.test_store_contract import CORPUS


@pytest.fixture
def filled(settings):
    with open_store(settings) as store:
        for make in CORPUS:
            article = make()
            store.upsert_article(article)
            assign_incidents(store, article, store.kb)  # type: ignore[attr-defined]
    return settings


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_search_json_and_table(filled) -> None:
    result = run("search", "零一萬物", "--json")
    assert result.exit_code == 0
    payload = json.loads(result.output)
    assert payload["total"] == 3 and payload["total_relation"] == "eq"
    assert {hit["article"]["article"]["language"] for hit in payload["hits"]} == {"zh", "en"}
    assert any("<mark>" in s for hit in payload["hits"] for s in hit["highlights"].get("title", []))
    table = run("search", "entity:baidu")
    assert table.exit_code == 0 and "文心一言被指蒸馏 GPT-4" in table.output and "1 articles" in table.output


def test_a_bad_query_is_a_clear_error_without_traceback(filled) -> None:
    result = run("search", "llama AND (gpt")
    assert result.exit_code == 1
    assert "bad query: unbalanced '('" in result.output
    assert "^" in result.output and "Traceback" not in result.output


def test_timeline_by_entity_in_any_script(filled) -> None:
    for name in ("零一萬物", "01.AI"):
        payload = json.loads(run("timeline", "--entity", name, "--json").output)
        assert [i["title_en"] for i in payload["incidents"]] == ["Yi-34B accused of being based on Llama"]
        assert payload["histogram"] == [{"date": "2023-11-01", "count": 3}]
    # The lone ERNIE Bot allegation (confidence 0.6, one outlet) waits for corroboration: no incident.
    assert "0 incidents: none found" in run("timeline", "蒸馏").output
    table = run("timeline", "wrapper")
    assert table.exit_code == 0 and "1 timeline" in table.output and "FooChat" in table.output
    assert "2024-02-01  " in table.output  # the histogram line


def test_incidents_articles_and_reindex(filled) -> None:
    incidents = json.loads(run("incidents", "--json").output)
    assert len(incidents) == 2 and incidents[0]["status"] == "disputed"
    articles = json.loads(run("articles", "--since", "2023-12-01", "--json").output)
    assert [a["article"]["source"] for a in articles] == ["量子位", "VentureBeat"]
    result = run("reindex")
    assert result.exit_code == 0 and "reindexed 5 articles" in result.output
    assert json.loads(run("search", "零一万物", "--json").output)["total"] == 3
