"""`shellwatch analyze`."""

from __future__ import annotations

import click

from shellwatch.cli_support import not_available_yet, pass_settings


@click.command()
@click.argument("source", default="-", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON.")
@pass_settings
def analyze(settings, source, as_json):
    """Find entities and provenance claims in a plain-text or HTML file (- for stdin)."""
    not_available_yet("analyze", "issue 4")
