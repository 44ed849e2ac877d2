"""The knowledge base seen from the web: entity listings, unknown names the analysis found, and
adding an entity to the knowledge-base file (a data file people edit; this appends one entry).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, field_validator

from nlp.knowledge_base import KnowledgeBaseError, load_knowledge_base, name_key
from nlp.script import fold
from shellwatch.domain import AnalysedArticle, Entity, EntityType, Record, to_dict


class EntityEditError(ValueError):
    """The entity cannot be added as given; the message names the field."""


class EntityConflict(EntityEditError):
    """The id or a name is taken by an entity already in the knowledge base."""


class EntityRequest(Record):
    """The body of `POST /api/entities`: one new knowledge-base entry."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="stable kebab-case ascii id")
    name: str = Field(min_length=1, max_length=200)
    type: EntityType
    names_zh: list[str] = Field(default_factory=list, max_length=20)
    aliases: list[str] = Field(default_factory=list, max_length=50)
    developer: str | None = Field(None, description="for a model: the id of the organisation behind it")
    description: str | None = Field(None, max_length=500)

    @field_validator("names_zh", "aliases")
    @classmethod
    def _clean(cls, names: list[str]) -> list[str]:
        cleaned = [name.strip() for name in names if name.strip()]
        if any(len(name) > 200 for name in cleaned):
            raise ValueError("names are at most 200 characters")
        return list(dict.fromkeys(cleaned))


@dataclass
class UnknownName:
    """A name the analysis could not link to the knowledge base, with where it was seen."""

    name: str
    type: str
    articles: int = 0
    article_ids: list[str] = field(default_factory=list)
    last_seen: datetime | None = None
    spellings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "articles": self.articles,
            "article_ids": self.article_ids,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "spellings": self.spellings,
        }


def entity_dict(entity: Entity) -> dict[str, Any]:
    return to_dict(entity)


def matching_entities(kb: Any, query: str = "", entity_type: EntityType | None = None) -> list[Entity]:
    """Entities whose names contain `query` (any script, case-insensitive), by name."""
    wanted = fold(query.strip())
    found = []
    for entity in kb.entities:
        if entity_type is not None and entity.type is not entity_type:
            continue
        names = [entity.id, entity.name, *entity.names_zh, *entity.aliases]
        if wanted and not any(wanted in fold(name) for name in names):
            continue
        found.append(entity)
    return sorted(found, key=lambda e: e.name.lower())


def unknown_names(articles: Iterable[AnalysedArticle], kb: Any, limit: int = 200) -> list[UnknownName]:
    """Unlinked mentions and unlinked claim subjects, grouped by spelling-insensitive name, most
    frequent first; names the knowledge base resolves by now are left out."""
    found: dict[str, UnknownName] = {}
    for analysed in articles:
        names: list[tuple[str, str]] = [
            (m.name, m.type.value) for m in analysed.analysis.entities if not m.linked or m.id is None
        ]
        names += [(c.subject_name, "model") for c in analysed.analysis.claims if c.subject is None]
        when = analysed.article.published_at or analysed.article.fetched_at
        for name, kind in dict.fromkeys(names):
            key = name_key(name)
            if not key or kb.resolve(name) is not None:
                continue
            entry = found.setdefault(key, UnknownName(name=name, type=kind))
            if name not in entry.spellings:
                entry.spellings.append(name)
            if analysed.id not in entry.article_ids:
                entry.articles += 1
                if len(entry.article_ids) < 10:
                    entry.article_ids.append(analysed.id)
            if entry.last_seen is None or when > entry.last_seen:
                entry.last_seen = when
    ranked = sorted(found.values(), key=lambda u: (-u.articles, u.name.lower()))
    return ranked[:limit]


def add_entity(path: Path, kb: Any, request: EntityRequest) -> Entity:
    """Append the entity to the knowledge-base file after checking it against the current base;
    the file is re-read and validated, and restored if the result does not load."""
    entity = Entity(**request.model_dump())
    _check(kb, entity)
    path = Path(path)
    with open(path, "r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two editors never interleave their appends
        original = handle.read()
        entry = yaml.safe_dump(
            [{k: v for k, v in to_dict(entity).items()}], allow_unicode=True, sort_keys=False
        )
        handle.seek(0, 2)
        handle.write(("" if original.endswith("\n") else "\n") + entry)
        handle.flush()
        try:
            load_knowledge_base(path)
        except KnowledgeBaseError as exc:
            handle.seek(0)
            handle.truncate()
            handle.write(original)
            raise EntityEditError(f"the knowledge base would not load with this entity: {exc}") from None
    return entity


def _check(kb: Any, entity: Entity) -> None:
    if kb.get(entity.id) is not None:
        raise EntityConflict(f"id: an entity {entity.id!r} already exists")
    for name in [entity.name, *entity.names_zh, *entity.aliases]:
        owner = kb.resolve(name)
        if owner is not None:
            raise EntityConflict(f"name {name!r} already belongs to {owner.id!r} ({owner.name})")
        if not name_key(name):
            raise EntityEditError(f"name {name!r} has no letters or digits")
    if entity.developer is not None:
        developer = kb.get(entity.developer)
        if developer is None or developer.type is not EntityType.ORG:
            raise EntityEditError(
                f"developer: {entity.developer!r} is not an organisation in the knowledge base"
            )
    elif entity.type is EntityType.MODEL:
        raise EntityEditError("developer: a model needs the id of the organisation that builds it")
