"""`shellwatch crawl` and `shellwatch ingest`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from shellwatch.cli_support import pass_settings


@click.command()
@click.option(
    "--sources",
    "sources_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Source registry (YAML); default: the shipped crawlers/sources.yaml.",
)
@click.option("--once", is_flag=True, help="Crawl every source once and exit (default: keep polling).")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Backfill: walk sitemaps and listings back to this date.",
)
@pass_settings
def crawl(settings, sources_file, once, since):
    """Collect articles from the source registry and hand each new one to processing."""
    from crawlers.registry import RegistryError
    from crawlers.run import run_crawl

    try:
        stats = run_crawl(
            settings, sources_file=sources_file, once=once, since=since.date() if since else None
        )
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(str(stats))


@click.command()
@click.argument("targets", nargs=-1, required=True)
@pass_settings
def ingest(settings, targets):
    """Take single articles from files or URLs and process them."""
    from crawlers.ingest import ingest_file
    from crawlers.run import run_crawl

    urls = [t for t in targets if t.startswith(("http://", "https://"))]
    files = [Path(t) for t in targets if t not in urls]
    for path in files:
        if not path.is_file():
            raise click.ClickException(f"{path}: neither an http(s) URL nor a readable file")
    failures = 0
    for path in files:
        try:
            article = ingest_file(settings, path, fetched_at=datetime.now(UTC))
        except ValueError as exc:
            failures += 1
            click.echo(f"{path}: not ingested: {exc}", err=True)
            continue
        click.echo(f"{path}: ingested as {article.id} ({article.language}, {article.title[:60]})")
    if urls:
        click.echo(str(run_crawl(settings, once=True, ingest_urls=urls)))
    if failures:
        raise click.ClickException(f"{failures} of {len(targets)} targets could not be ingested")
