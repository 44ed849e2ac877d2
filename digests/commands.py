"""`shellwatch digest YYYY-MM`: build the monthly controversy digest in one format and language."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from shellwatch.cli_support import pass_settings
from shellwatch.config import Settings


@click.command()
@click.argument("month", metavar="YYYY-MM")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html", "pdf", "json", "csv"]),
    default="md",
    show_default=True,
)
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="Language of titles, headings and labels; quotes keep their own.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here; '-' for stdout. Default: <data dir>/digests/shellwatch-digest-YYYY-MM-<lang>.<ext>.",
)
@click.option(
    "--send",
    is_flag=True,
    help="Also e-mail the file to SHELLWATCH_DIGEST_RECIPIENTS (once per recipient and file).",
)
@pass_settings
def digest(settings: Settings, month: str, fmt: str, lang: str, output: Path | None, send: bool) -> None:
    """Build the monthly controversy digest for MONTH (e.g. 2023-12) and print where it was written."""
    from alerts.errors import DeliveryError
    from digests import DigestError, MonthError, parse_month, produce_digest, send_digest, write_digest
    from nlp.knowledge_base import KnowledgeBaseError
    from search import StoreError

    try:
        parse_month(month)
    except MonthError as exc:
        raise click.BadParameter(str(exc), param_hint="YYYY-MM") from None
    to_stdout = output is not None and str(output) == "-"
    if send and to_stdout:
        raise click.BadParameter("--send needs a file, not stdout", param_hint="-o")
    try:
        if to_stdout:
            _, payload = produce_digest(settings, month, fmt, lang)
            sys.stdout.buffer.write(payload)
            sys.stdout.buffer.flush()
            return
        path = write_digest(settings, month, fmt, lang, output)
        click.echo(str(path))
        if send:
            for result in send_digest(settings, path):
                state = (
                    "sent" if result.sent else f"not sent: {result.error}" if result.error else "sent before"
                )
                click.echo(f"{result.recipient}: {state}", err=True)
    except (DigestError, DeliveryError, KnowledgeBaseError, StoreError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
