"""`shellwatch analyze`: entities and provenance claims of one plain-text or HTML file;
`shellwatch train-nlp`: rebuild the shipped claim classifier from the labelled training data."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from nlp.knowledge_base import KnowledgeBaseError
from shellwatch.cli_support import echo_json, pass_settings
from shellwatch.config import Settings
from shellwatch.domain import Analysis


@click.command()
@click.argument("source", default="-", type=click.File("rb"))
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON.")
@pass_settings
def analyze(settings: Settings, source, as_json: bool) -> None:
    """Find entities and provenance claims in a plain-text or HTML file (- for stdin)."""
    from nlp.pipeline import load_analyzer

    try:
        analyzer = load_analyzer(settings)
    except KnowledgeBaseError as exc:
        raise click.ClickException(str(exc)) from None
    analysis = analyzer.analyze(source.read())
    if as_json:
        echo_json(analysis)
    else:
        print_analysis(analysis)


@click.command("train-nlp")
@click.option(
    "--data",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labelled JSONL files (default: every tests/data/nlp/train-*.jsonl).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Model directory (default: the shipped nlp/data/models/claims).",
)
@pass_settings
def train_nlp(settings: Settings, files: tuple[Path, ...], out: Path | None) -> None:
    """Retrain the claim classifier from the labelled data (deterministic, ~10 s)."""
    from nlp.classifier import MODEL_DIR
    from nlp.knowledge_base import load_knowledge_base
    from nlp.training import TRAINING_FILES, rebuild

    try:
        kb = load_knowledge_base(settings.knowledge_base_file)
    except KnowledgeBaseError as exc:
        raise click.ClickException(str(exc)) from None
    directory = out or MODEL_DIR
    meta = rebuild(kb, files or TRAINING_FILES, directory)
    click.echo(f"model written to {directory}")
    for name, digest in meta["data_sha256"].items():
        click.echo(f"  trained on {name} (sha256 {digest[:12]}…)")
    for language, counts in meta["training"].items():
        if isinstance(counts, dict):
            click.echo(
                f"  {language}: {counts['units']} clauses, candidate claims {counts['candidate_claims']}"
            )


def print_analysis(analysis: Analysis) -> None:
    """The analysis as readable tables."""
    # Piped output gets a wide table rather than the 80 columns Rich assumes off a terminal.
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)
    verdict = "relevant" if analysis.relevant else "not relevant"
    console.print(f"language: {analysis.language.value}   {verdict} (relevance {analysis.relevance:.2f})")
    if analysis.event_dates:
        console.print("event dates: " + ", ".join(analysis.event_dates))
    for note in analysis.notes:
        console.print(f"note: {note}")

    entities = Table(title="Entities", show_lines=False)
    for column in ("id", "name", "type", "surface", "linked"):
        entities.add_column(column)
    for entity in analysis.entities:
        entities.add_row(
            entity.id or "—",
            entity.name,
            entity.type.value,
            ", ".join(entity.surface),
            "yes" if entity.linked else "no",
        )
    console.print(entities if analysis.entities else "no entities found")

    claims = Table(title="Claims", show_lines=True)
    for column in ("subject", "type", "depth", "stance", "object", "speaker", "conf."):
        claims.add_column(column, no_wrap=True)
    claims.add_column("evidence", overflow="fold", min_width=30)
    for claim in analysis.claims:
        claims.add_row(
            claim.subject_name + ("" if claim.subject else " (unlinked)"),
            claim.type.value,
            str(claim.depth) if claim.depth is not None else "—",
            claim.stance.value,
            claim.object_name or "—",
            claim.speaker or "—",
            f"{claim.confidence:.2f}",
            claim.evidence,
        )
    console.print(claims if analysis.claims else "no claims found")
