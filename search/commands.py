"""`shellwatch articles`, `search`, `timeline`, `incidents`, `reindex`."""

from __future__ import annotations

import click

from shellwatch.cli_support import not_available_yet, pass_settings


@click.command()
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def articles(settings, since, as_json):
    """Every stored article (for export)."""
    not_available_yet("articles", "issue 6")


@click.command()
@click.argument("query")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def search(settings, query, as_json):
    """Search the coverage (words, "phrases", AND/OR/NOT, entity: type: stance: depth: lang: source: from: to:)."""
    not_available_yet("search", "issue 6")


@click.command()
@click.argument("query", required=False, default="")
@click.option("--entity", help="Only incidents about this entity (any name, any script).")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def timeline(settings, query, entity, as_json):
    """Incidents on a time axis with a histogram of their coverage."""
    not_available_yet("timeline", "issue 6")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def incidents(settings, as_json):
    """List incidents with their status and coverage counts."""
    not_available_yet("incidents", "issue 6")


@click.command()
@pass_settings
def reindex(settings):
    """Rebuild the index under a new name and swap it in without downtime."""
    not_available_yet("reindex", "issue 6")
