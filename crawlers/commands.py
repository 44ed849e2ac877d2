"""`shellwatch crawl` and `shellwatch ingest`."""

from __future__ import annotations

from pathlib import Path

import click

from shellwatch.cli_support import not_available_yet, pass_settings


@click.command()
@click.option("--sources", "sources_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Source registry (YAML); default: the shipped crawlers/sources.yaml.")
@click.option("--once", is_flag=True, help="Crawl every source once and exit (default: keep polling).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Backfill: walk sitemaps and listings back to this date.")
@pass_settings
def crawl(settings, sources_file, once, since):
    """Collect articles from the source registry and hand each new one to processing."""
    not_available_yet("crawl", "issue 3")


@click.command()
@click.argument("targets", nargs=-1, required=True)
@pass_settings
def ingest(settings, targets):
    """Take single articles from files or URLs and process them."""
    not_available_yet("ingest", "issue 3")
