"""Small helpers shared by every stage's commands: settings, the store, JSON and progress output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click
from pydantic import BaseModel

from shellwatch.config import Settings
from shellwatch.domain import to_dict

T = TypeVar("T")

pass_settings = click.make_pass_decorator(Settings)


@contextmanager
def opened_store(settings: Settings) -> Iterator[object]:
    """The configured store, closed on exit; a store that cannot open is a clear CLI error."""
    from search import StoreError, open_store

    try:
        store = open_store(settings)
    except StoreError as exc:
        raise click.ClickException(f"cannot open the store: {exc}") from None
    try:
        yield store
    finally:
        store.close()


def echo_json(payload: BaseModel | Iterable[BaseModel] | dict | list) -> None:
    """Print records as JSON (one document; lists stay lists) for scripts."""
    if isinstance(payload, BaseModel):
        data: object = to_dict(payload)
    elif isinstance(payload, dict):
        data = payload
    else:
        data = [to_dict(item) if isinstance(item, BaseModel) else item for item in payload]
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def progress(items: Iterable[T], label: str, length: int | None = None) -> Iterator[T]:
    """A progress bar on a terminal, plain log lines every 100 items elsewhere."""
    if sys.stderr.isatty():
        with click.progressbar(items, label=label, length=length, file=sys.stderr) as bar:
            yield from bar
        return
    done = 0
    for item in items:
        yield item
        done += 1
        if done % 100 == 0:
            click.echo(f"{label}: {done}" + (f"/{length}" if length else ""), err=True)
    click.echo(f"{label}: {done} done", err=True)
