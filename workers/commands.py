"""`shellwatch worker` and `shellwatch dead-letters`."""

from __future__ import annotations

import click

from shellwatch.cli_support import echo_json, opened_store, pass_settings


@click.command()
@click.option(
    "--queues",
    "-Q",
    default="crawl,analysis,delivery",
    show_default=True,
    help="Comma-separated queues to consume.",
)
@click.option("--concurrency", "-c", type=int, default=None, help="Worker processes (default: cores).")
@click.option("--beat", is_flag=True, help="Also run the periodic scheduler (one per deployment).")
@pass_settings
def worker(settings, queues, concurrency, beat):
    """Run a Celery worker on REDIS_URL (multi-service mode)."""
    from workers.application import QUEUES, create_app

    if settings.embedded:
        raise click.ClickException(
            "REDIS_URL is not set: `shellwatch worker` consumes the Redis broker. "
            "Without REDIS_URL articles are processed in-process by the crawl itself (embedded mode)."
        )
    wanted = [queue.strip() for queue in queues.split(",") if queue.strip()]
    unknown = sorted(set(wanted) - set(QUEUES))
    if not wanted or unknown:
        raise click.ClickException(
            f"unknown queue(s) {', '.join(unknown) or '(none)'}: use {', '.join(QUEUES)}"
        )
    if concurrency is not None and concurrency < 1:
        raise click.ClickException("--concurrency must be at least 1")
    settings.ensure_data_dir()
    app = create_app(settings)
    argv = ["worker", "--queues", ",".join(wanted), "--loglevel", settings.log_level, "--pool", "prefork"]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    if beat:
        argv += ["--beat", "--schedule", str(settings.data_dir / "celerybeat-schedule")]
    app.worker_main(argv=argv)


@click.command("dead-letters")
@click.option(
    "--retry", "retry_ids", multiple=True, help="Re-run this dead letter (repeatable); 'all' for all."
)
@click.option("--json", "as_json", is_flag=True)
@pass_settings
def dead_letters(settings, retry_ids, as_json):
    """List the tasks that failed permanently, or re-run them."""
    from workers.dead_letters import UnknownDeadLetter, retry_dead_letters

    if retry_ids:
        try:
            results = retry_dead_letters(settings, list(retry_ids))
        except UnknownDeadLetter as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            echo_json([{"id": r.letter_id, "task": r.task, "outcome": r.outcome} for r in results])
        else:
            for result in results:
                click.echo(f"{result.letter_id}  {result.task}  {result.outcome}")
            if not results:
                click.echo("no dead letters")
        if any(result.outcome.startswith("failed") for result in results):
            raise SystemExit(1)
        return
    with opened_store(settings) as store:
        letters = store.list_dead_letters()
    if as_json:
        echo_json(letters)
        return
    if not letters:
        click.echo("no dead letters")
        return
    for letter in letters:
        error = letter.error.splitlines()[0] if letter.error else ""
        click.echo(
            f"{letter.id}  {letter.failed_at:%Y-%m-%d %H:%M:%S}  {letter.task}  "
            f"attempts={letter.attempts}  {error}"
        )
