"""Monthly controversy digests: Markdown, HTML, PDF, JSON and CSV, in English or Chinese, with charts.

`build_digest` reads the store for one month (and the month before, for the change), `render`
turns the Digest into bytes of one format, `write_digest` does both and writes the file into the
data directory. `last_month` names the month the monthly task builds on the first of a month;
`send_digest` e-mails a written file to SHELLWATCH_DIGEST_RECIPIENTS.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from digests.build import build_digest
from digests.delivery import DigestSend, send_digest
from digests.errors import DigestError, MonthError
from digests.model import Digest
from digests.months import last_month, parse_month
from digests.renderers import FORMATS, MEDIA_TYPES, render
from shellwatch.config import Settings

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "Digest",
    "DigestSend",
    "DigestError",
    "MonthError",
    "build_digest",
    "default_path",
    "last_month",
    "parse_month",
    "produce_digest",
    "render",
    "send_digest",
    "write_digest",
]


def default_path(settings: Settings, month: str, fmt: str, lang: str) -> Path:
    """`<data dir>/digests/shellwatch-digest-YYYY-MM-<lang>.<ext>`."""
    return settings.data_dir / "digests" / f"shellwatch-digest-{month}-{lang}.{fmt}"


def produce_digest(
    settings: Settings, month: str, fmt: str, lang: str, *, today: date | None = None
) -> tuple[Digest, bytes]:
    """Open the configured store and knowledge base, build the digest and render it in `fmt`."""
    from nlp.knowledge_base import load_knowledge_base
    from search import open_store

    if fmt not in FORMATS:
        raise DigestError(f"unknown digest format {fmt!r}: use one of {', '.join(FORMATS)}")
    parse_month(month, today)  # refuse a bad month before opening anything
    kb = load_knowledge_base(settings.knowledge_base_file)
    with open_store(settings) as store:
        digest = build_digest(store, kb, month, lang, today=today)
    return digest, render(digest, fmt)


def write_digest(
    settings: Settings,
    month: str,
    fmt: str,
    lang: str,
    output: Path | None = None,
    *,
    today: date | None = None,
) -> Path:
    """Build and render one digest and write it (atomically) to `output` or the default path."""
    digest, payload = produce_digest(settings, month, fmt, lang, today=today)
    target = Path(output) if output is not None else default_path(settings, digest.month, fmt, lang)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(payload)
    partial.replace(target)  # a reader never sees half a PDF
    return target
