"""The `shellwatch` command line.

Each stage package contributes its own commands (`<package>/commands.py`); this module only
lists them and loads one when it runs, so `shellwatch --help` stays fast and a broken stage
cannot take the whole CLI down.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from shellwatch import __version__
from shellwatch.config import ConfigError, load_settings

# name → "module:attribute" of a click command, in the order `--help` lists them.
COMMANDS: dict[str, str] = {
    "demo": "shellwatch.demo:demo",
    "crawl": "crawlers.commands:crawl",
    "ingest": "crawlers.commands:ingest",
    "worker": "workers.commands:worker",
    "dead-letters": "workers.commands:dead_letters",
    "analyze": "nlp.commands:analyze",
    "train-nlp": "nlp.commands:train_nlp",
    "articles": "search.commands:articles",
    "search": "search.commands:search",
    "timeline": "search.commands:timeline",
    "incidents": "search.commands:incidents",
    "reindex": "search.commands:reindex",
    "subscribe": "alerts.commands:subscribe",
    "subscriptions": "alerts.commands:subscriptions",
    "digest": "digests.commands:digest",
    "serve": "web.commands:serve",
    "tokens": "web.commands:tokens",
}


class StageGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=StageGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shellwatch")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """ShellWatch: news monitoring for LLM "wrapper" (套壳) controversies.

    Configuration comes from environment variables (see the README); the defaults keep all state
    in ./data with an embedded SQLite store and in-process tasks.
    """
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
    )
    # Keep library caches (matplotlib's font list) with the rest of the state, not in $HOME.
    os.environ.setdefault("MPLCONFIGDIR", str(settings.data_dir / "cache" / "matplotlib"))
    ctx.obj = settings


def main() -> None:
    cli(prog_name="shellwatch")
