"""Embedded mode (no REDIS_URL): the same pipeline in-process, with the real NLP, search and alerts
stages and a real SQLite store; poison articles dead-lettered; a locked store spools and recovers;
`shellwatch dead-letters` lists and re-runs.
"""

from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner

from search import open_store
from search.backends.sqlite import SqliteStore
from search.entities import load_kb
from shellwatch.cli import cli
from shellwatch.config import Settings
from shellwatch.domain import Analysis, Article
from tests.workers.factories import make_article
from workers.application import PROCESS_ARTICLE
from workers.context import close_contexts, process_context
from workers.handoff import HandOff, submit_article
from workers.metrics import render_prometheus
from workers.pipeline import process_article
from workers.reliability import make_dead_letter


def test_embedded_round_trip_stores_every_article_once_and_groups_incidents(settings: Settings) -> None:
    articles = [make_article(i) for i in range(6)]
    assert [submit_article(settings, a) for a in articles] == [HandOff.PROCESSED] * len(articles)
    assert submit_article(settings, articles[0]) is HandOff.PROCESSED  # the crawler saw it again

    with open_store(settings) as store:
        assert store.count_articles() == len(articles)
        incidents = store.list_incidents()
        assert incidents, "the allegations in these articles open incidents"
        covered = {article_id for incident in incidents for article_id in incident.article_ids}
        for article in articles:
            stored = store.get_article(article.id)
            assert stored is not None and stored.analysis.relevant
            assert set(stored.incident_ids) <= {incident.id for incident in incidents}
            if stored.incident_ids:
                assert article.id in covered
    metrics = render_prometheus(settings)
    assert f"shellwatch_articles_processed_total {len(articles) + 1}.0" in metrics
    assert 'shellwatch_articles_submitted_total{how="processed"} 7.0' in metrics


def test_process_article_is_the_plain_function_behind_every_mode(settings: Settings) -> None:
    context = process_context(settings)
    article = make_article(1)
    outcome = process_article(
        settings, article, store=context.store, analyzer=context.analyzer, kb=context.knowledge_base
    )
    assert outcome.article_id == article.id and outcome.new
    assert outcome.incident_ids and outcome.new_allegations >= 1
    again = process_article(
        settings, article, store=context.store, analyzer=context.analyzer, kb=context.knowledge_base
    )
    assert not again.new and again.incident_ids == outcome.incident_ids
    assert again.new_allegations == 0 and again.alerts == []  # nothing new the second time
    assert context.store.count_articles() == 1


class PoisonAnalyzer:
    """Stand-in: the real analyzer, except that one article makes it fail (an analysis bug)."""

    def __init__(self, real, poison_id: str):
        self.real, self.poison_id = real, poison_id

    def analyze_article(self, article: Article) -> Analysis:
        if article.id == self.poison_id:
            raise IndexError("list index out of range in the stance scorer")
        return self.real.analyze_article(article)


def test_a_poison_article_is_dead_lettered_and_can_be_rerun_from_the_cli(settings: Settings) -> None:
    articles = [make_article(i) for i in range(4)]
    poison = articles[2]
    context = process_context(settings)
    context.analyzer = PoisonAnalyzer(context.analyzer, poison.id)
    outcomes = [submit_article(settings, article) for article in articles]
    assert outcomes == [HandOff.PROCESSED, HandOff.PROCESSED, HandOff.DEAD_LETTERED, HandOff.PROCESSED]

    runner = CliRunner()
    listed = runner.invoke(cli, ["dead-letters", "--json"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    [letter] = json.loads(listed.output)
    assert letter["task"] == PROCESS_ARTICLE and letter["attempts"] == 3
    assert letter["error"].startswith("IndexError")
    assert json.loads(letter["payload"])["article_id"] == poison.id
    plain = runner.invoke(cli, ["dead-letters"], catch_exceptions=False)
    assert letter["id"] in plain.output and "IndexError" in plain.output

    close_contexts()  # the bug is fixed: a fresh process context loads the real analyzer
    rerun = runner.invoke(cli, ["dead-letters", "--retry", letter["id"]], catch_exceptions=False)
    assert rerun.exit_code == 0, rerun.output
    assert "processed" in rerun.output
    with open_store(settings) as store:
        assert store.list_dead_letters() == []
        assert store.count_articles() == len(articles)
    unknown = runner.invoke(cli, ["dead-letters", "--retry", "nope"])
    assert unknown.exit_code != 0 and "no dead letter with id nope" in unknown.output


def test_a_dead_letter_that_fails_again_stays_with_the_new_error(settings: Settings) -> None:
    context = process_context(settings)
    context.store.add_dead_letter(
        make_dead_letter(
            PROCESS_ARTICLE,
            "broken",
            json.dumps({"article": "{not json", "article_id": "broken"}),
            ValueError("first failure"),
            1,
        )
    )
    result = CliRunner().invoke(cli, ["dead-letters", "--retry", "all"], catch_exceptions=False)
    assert result.exit_code == 1 and "failed again" in result.output
    [letter] = context.store.list_dead_letters()
    assert letter.attempts == 2 and letter.error.startswith("ValidationError")


def test_a_locked_store_spools_the_article_and_the_next_hand_off_processes_it(settings: Settings) -> None:
    context = process_context(settings)
    context.analyzer  # noqa: B018 - load before the clock matters
    open_store(settings).close()
    # A short lock wait keeps the in-process retries within the test's time.
    context.store = SqliteStore(settings.database_path, kb=load_kb(settings), lock_timeout=0.2)
    context.discard_store = lambda: None  # keep that store across the retries
    blocker = sqlite3.connect(settings.database_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        first = make_article(1)
        assert submit_article(settings, first) is HandOff.SPOOLED
        assert [path.stem for path in context.spool.pending()] == [first.id]
    finally:
        blocker.rollback()
        blocker.close()
    second = make_article(2)
    assert submit_article(settings, second) is HandOff.PROCESSED
    assert context.spool.pending() == []
    with open_store(settings) as store:
        assert {a.id for a in store.iter_articles()} == {first.id, second.id}
    assert "shellwatch_task_retries_total" in render_prometheus(settings)


def test_a_correction_survives_reprocessing_of_its_article(settings: Settings) -> None:
    from search.corrections import CorrectionRequest, claim_key, correct_claim

    context = process_context(settings)
    stages = dict(store=context.store, analyzer=context.analyzer, kb=context.knowledge_base)
    article = make_article(2)
    process_article(settings, article, **stages)
    # A claim the correction changes (it refuses one that already reads that way).
    claim = next(c for c in context.store.get_article(article.id).analysis.claims if c.stance != "analysis")
    correct_claim(
        context.store,
        context.knowledge_base,
        CorrectionRequest(article_id=article.id, claim_key=claim_key(article.id, claim), stance="analysis"),
    )

    process_article(settings, article, **stages)  # the crawler or a dead-letter re-run sends it again

    stances = [
        c.stance
        for c in context.store.get_article(article.id).analysis.claims
        if c.evidence == claim.evidence
    ]
    assert stances and all(stance == "analysis" for stance in stances)
