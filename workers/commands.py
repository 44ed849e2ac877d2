"""`shellwatch worker` and `shellwatch dead-letters`."""

from __future__ import annotations

import click

from shellwatch.cli_support import not_available_yet, pass_settings


@click.command()
@click.option("--queues", "-Q", default="crawl,analysis,delivery", show_default=True,
              help="Comma-separated queues to consume.")
@click.option("--concurrency", "-c", type=int, default=None, help="Worker processes (default: cores).")
@click.option("--beat", is_flag=True, help="Also run the periodic scheduler (one per deployment).")
@pass_settings
def worker(settings, queues, concurrency, beat):
    """Run a Celery worker on REDIS_URL (multi-service mode)."""
    not_available_yet("worker", "issue 5")


@click.command("dead-letters")
@click.option("--retry", "retry_ids", multiple=True, help="Re-run this dead letter (repeatable); 'all' for all.")
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def dead_letters(settings, retry_ids, as_json):
    """List the tasks that failed permanently, or re-run them."""
    not_available_yet("dead-letters", "issue 5")
