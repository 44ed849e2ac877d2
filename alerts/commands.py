"""`shellwatch subscribe` and `shellwatch subscriptions`."""

from __future__ import annotations

import click

from shellwatch.cli_support import not_available_yet, pass_settings


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_settings
def subscribe(settings, args):
    """Subscribe to alerts on new allegations."""
    not_available_yet("subscribe", "issue 7")


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@pass_settings
def subscriptions(settings, args):
    """List, pause, resume or delete subscriptions."""
    not_available_yet("subscriptions", "issue 7")
