"""`shellwatch digest`."""

from __future__ import annotations

import click

from shellwatch.cli_support import not_available_yet, pass_settings


@click.command()
@click.argument("month", metavar="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "pdf", "json", "csv"]), default="md",
              show_default=True)
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here (default: stdout, or the data directory for pdf).")
@pass_settings
def digest(settings, month, fmt, lang, output):
    """Build the monthly controversy digest."""
    not_available_yet("digest", "issue 8")
