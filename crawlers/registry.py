"""The source registry: a YAML file users edit (crawlers/sources.yaml ships a real one)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from shellwatch.domain import Source


class RegistryError(ValueError):
    """The registry file is unreadable or a source in it is wrong; the message names it."""


def load_sources(path: Path) -> list[Source]:
    """Every source in the registry, validated (unique names, http(s) URLs, compilable patterns)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RegistryError(f"{path}: cannot read the source registry: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        raise RegistryError(f"{path}: expected a mapping with a `sources:` list")
    sources: list[Source] = []
    names: set[str] = set()
    for index, raw in enumerate(data["sources"]):
        label = raw.get("name", f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
        try:
            source = Source.model_validate(raw)
        except ValidationError as exc:
            raise RegistryError(f"{path}: source {label}: {exc}") from None
        if source.name in names:
            raise RegistryError(f"{path}: source name {source.name!r} is used twice")
        names.add(source.name)
        _check(path, source)
        sources.append(source)
    return sources


def _check(path: Path, source: Source) -> None:
    urls = [*source.feeds, *source.sitemaps, *source.start_urls]
    if not urls:
        raise RegistryError(f"{path}: source {source.name!r} has no feeds, sitemaps or start_urls")
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise RegistryError(f"{path}: source {source.name!r}: {url!r} is not an http(s) URL")
    for pattern in source.allow:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise RegistryError(f"{path}: source {source.name!r}: allow pattern {pattern!r}: {exc}") from None
