"""`shellwatch analyze` on files and stdin, as JSON and as a table."""

from __future__ import annotations

import json

from click.testing import CliRunner

from shellwatch.cli import cli


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_json_output_has_the_analysis_shape(settings, tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>x</title></head><body><p>零一萬物被質疑Yi-34B套殼Llama。</p>"
        "<p>李開復表示，Yi-34B完全自研。</p></body></html>",
        encoding="utf-8",
    )
    result = run("analyze", str(page), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"language", "relevant", "relevance", "entities", "claims", "event_dates", "notes"}
    assert data["language"] == "zh" and data["relevant"] is True
    assert {"01-ai", "yi-34b", "llama", "kai-fu-lee"} <= {e["id"] for e in data["entities"]}
    claim = next(c for c in data["claims"] if c["type"] == "llama_based")
    assert claim["subject"] == "yi-34b" and claim["object"] == "llama" and claim["depth"] == 5
    assert claim["stance"] == "allegation"


def test_table_output_from_stdin(settings):
    result = run("analyze", "-", input=b"Yi-34B was accused of copying Meta's Llama.")
    assert result.exit_code == 0, result.output
    assert "llama_based" in result.output and "allegation" in result.output and "Yi-34B" in result.output


def test_a_broken_knowledge_base_is_a_clear_error(settings, tmp_path, monkeypatch):
    bad = tmp_path / "kb.yaml"
    bad.write_text("entities: 3\n", encoding="utf-8")
    monkeypatch.setenv("SHELLWATCH_KNOWLEDGE_BASE", str(bad))
    result = CliRunner().invoke(cli, ["analyze", "-"], input=b"x")
    assert result.exit_code != 0
    assert "entities" in result.output
