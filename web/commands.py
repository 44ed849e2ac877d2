"""`shellwatch serve` and `shellwatch tokens`."""

from __future__ import annotations

import click

from shellwatch.cli_support import not_available_yet, pass_settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True)
@pass_settings
def serve(settings, host, port):
    """Serve the HTTP API and the web app."""
    not_available_yet("serve", "issue 9")


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_settings
def tokens(settings, args):
    """Create, list and revoke API tokens."""
    not_available_yet("tokens", "issue 9")
