"""`shellwatch articles`, `search`, `timeline`, `incidents`, `reindex`: tables for people, JSON for scripts."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from search.backends.base import QueryError, Store
from search.query import describe_error
from search.results import Timeline
from shellwatch.cli_support import echo_json, opened_store, pass_settings
from shellwatch.domain import Incident

MARK = re.compile(r"<mark>(.*?)</mark>", re.S)


@click.command()
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def articles(settings, since, as_json):
    """Every stored article (for export)."""
    since = since.replace(tzinfo=UTC) if since else None
    with opened_store(settings) as store:
        if as_json:
            echo_json(list(store.iter_articles(since=since)))
            return
        table = Table("published", "lang", "source", "title", "incidents")
        for item in store.iter_articles(since=since):
            article = item.article
            when = article.published_at or article.fetched_at
            table.add_row(
                when.date().isoformat(),
                article.language.value,
                article.source,
                article.title,
                ", ".join(item.incident_ids),
            )
        _print(table)


@click.command()
@click.argument("query")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def search(settings, query, limit, as_json):
    """Search the coverage (words, "phrases", AND/OR/NOT, entity: type: stance: depth: lang: source: from: to:)."""
    with opened_store(settings) as store, _query_errors(query):
        result = store.search(query, limit=limit)
    if as_json:
        echo_json(result)
        return
    table = Table(
        "published", "lang", "source", "title / snippet", "score", title=f"{result.total_display} articles"
    )
    for hit in result.hits:
        article = hit.article.article
        when = article.published_at or article.fetched_at
        title = _marked(hit.highlights.get("title", [html.escape(article.title)])[0])
        snippet = _marked(hit.highlights.get("text", [""])[0])
        snippet.stylize("dim")
        table.add_row(
            when.date().isoformat(),
            article.language.value,
            article.source,
            Text.assemble(title, "\n", snippet),
            f"{hit.score:.2f}",
        )
    _print(table)
    if result.facet_sample:
        click.echo(f"(facets count the {result.facet_sample:,} newest of {result.total_display} matches)")
    for name in ("entity", "type", "stance", "lang", "month"):
        values = result.facets.get(name, [])[:8]
        if values:
            click.echo(f"{name}: " + ", ".join(f"{f.label or f.value} ({f.count})" for f in values))


@click.command()
@click.argument("query", required=False, default="")
@click.option("--entity", help="Only incidents about this entity (any name, any script).")
@click.option(
    "--interval", type=click.Choice(["day", "week", "month", "year"]), default="month", show_default=True
)
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def timeline(settings, query, entity, interval, as_json):
    """Incidents on a time axis with a histogram of their coverage."""
    with opened_store(settings) as store, _query_errors(query):
        result = store.timeline(query, entity=entity, interval=interval)
    if as_json:
        echo_json(result)
        return
    _print(_incident_table(result.incidents, store_title="timeline"))
    _print_histogram(result)


@click.command()
@click.option("--entity", help="Only incidents about this entity (any name, any script).")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def incidents(settings, entity, as_json):
    """List incidents with their status and coverage counts."""
    with opened_store(settings) as store:
        found = store.list_incidents(subject=entity)
    if as_json:
        echo_json(found)
        return
    _print(_incident_table(found, store_title="incidents"))


@click.command()
@pass_settings
def reindex(settings):
    """Rebuild the index under a new name and swap it in without downtime."""
    with opened_store(settings) as store:
        total = store.count_articles()
        done = _reindex(store, total)
    click.echo(f"reindexed {done} articles")


def _reindex(store: Store, total: int) -> int:
    with click.progressbar(length=total, label="reindexing", file=click.get_text_stream("stderr")) as bar:
        last = 0

        def advance(done: int) -> None:
            nonlocal last
            bar.update(done - last)
            last = done

        return store.reindex(progress=advance)


# Output helpers ---------------------------------------------------------------------------------


@contextmanager
def _query_errors(query: str) -> Iterator[None]:
    try:
        yield
    except QueryError as exc:
        raise click.ClickException("bad query: " + describe_error(query, exc)) from None


def _print(renderable: object) -> None:
    Console(soft_wrap=False).print(renderable)


def _marked(snippet: str) -> Text:
    """A highlight snippet (escaped HTML with <mark>) as terminal text with the marks in bold."""
    text = Text()
    cursor = 0
    for match in MARK.finditer(snippet):
        text.append(html.unescape(snippet[cursor : match.start()]))
        text.append(html.unescape(match.group(1)), style="bold yellow")
        cursor = match.end()
    text.append(html.unescape(snippet[cursor:]))
    return text


def _incident_table(found: list[Incident], store_title: str) -> Table:
    table = Table(
        "started",
        "status",
        "title",
        "subject",
        "types",
        "articles",
        "id",
        title=f"{len(found)} {store_title if found else 'incidents: none found'}",
    )
    for incident in found:
        table.add_row(
            incident.started_at.date().isoformat(),
            incident.status.value,
            f"{incident.title_en}\n{incident.title_zh}",
            incident.subject or incident.subject_name,
            ", ".join(t.value for t in incident.claim_types),
            str(len(incident.article_ids)),
            incident.id,
        )
    return table


def _print_histogram(result: Timeline) -> None:
    if not result.histogram:
        return
    peak = max(bucket.count for bucket in result.histogram)
    for bucket in result.histogram:
        bar = "█" * max(1, round(30 * bucket.count / peak))
        click.echo(f"{bucket.date.isoformat()}  {bar} {bucket.count}")
