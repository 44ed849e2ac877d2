"""How the store uses the knowledge base: resolve names, expand a document's entities, label facets.

The knowledge base itself is the NLP stage's (`nlp.knowledge_base`); this module only states the
part of its interface the store relies on and derives the entity ids a document is indexed under.
"""

from __future__ import annotations

import logging
from typing import Protocol

from shellwatch.config import Settings
from shellwatch.domain import AnalysedArticle, Entity, EntityType

log = logging.getLogger(__name__)


class KnowledgeBase(Protocol):
    """The subset of nlp.knowledge_base.KnowledgeBase the store needs."""

    entities: list[Entity]

    def get(self, entity_id: str) -> Entity | None: ...

    def resolve(self, name: str) -> Entity | None: ...

    def models_of(self, org_id: str) -> list[str]: ...

    def developer_of(self, model_id: str) -> str | None: ...


class EmptyKnowledgeBase:
    """Used only while no knowledge base can be loaded: every name stays unresolved."""

    entities: list[Entity] = []

    def get(self, entity_id: str) -> Entity | None:
        return None

    def resolve(self, name: str) -> Entity | None:
        return None

    def models_of(self, org_id: str) -> list[str]:
        return []

    def developer_of(self, model_id: str) -> str | None:
        return None


def load_kb(settings: Settings) -> KnowledgeBase:
    """The configured knowledge base; an empty one (logged loudly) when nlp or the file is missing."""
    try:
        from nlp.knowledge_base import load_knowledge_base
    except ImportError:
        log.warning("event=kb-unavailable reason=nlp.knowledge_base-missing entities=unresolved")
        return EmptyKnowledgeBase()
    if not settings.knowledge_base_file.exists():
        log.warning("event=kb-unavailable reason=file-missing path=%s", settings.knowledge_base_file)
        return EmptyKnowledgeBase()
    return load_knowledge_base(settings.knowledge_base_file)


def resolve_entity_id(kb: KnowledgeBase, name: str) -> str:
    """An id for any name, alias or id; unresolvable names are kept (folded) so they match nothing odd."""
    entity = kb.get(name) or kb.resolve(name)
    return entity.id if entity else name.strip().lower()


def entity_family(kb: KnowledgeBase, entity_id: str) -> list[str]:
    """The entity and, for an organisation, its models: what `entity:X` and subscriptions match."""
    return [entity_id, *kb.models_of(entity_id)]


def org_of(kb: KnowledgeBase, entity_id: str) -> str:
    """The organisation behind a model, or the entity itself."""
    entity = kb.get(entity_id)
    if entity is not None and entity.type is EntityType.MODEL:
        return kb.developer_of(entity_id) or entity_id
    return entity_id


def document_entity_ids(kb: KnowledgeBase, analysed: AnalysedArticle) -> list[str]:
    """Every entity id a document is found under: mentions, claim subjects/objects, their developers."""
    ids: list[str] = []
    for mention in analysed.analysis.entities:
        if mention.id:
            ids.append(mention.id)
    for claim in analysed.analysis.claims:
        ids.extend(i for i in (claim.subject, claim.object) if i)
    expanded = list(ids)
    for entity_id in ids:
        developer = kb.developer_of(entity_id)
        if developer:
            expanded.append(developer)
    return list(dict.fromkeys(expanded))


def entity_names(kb: KnowledgeBase, entity_ids: list[str]) -> list[str]:
    """Every name of these entities in every script, indexed as text so any alias finds them."""
    names: list[str] = []
    for entity_id in entity_ids:
        entity = kb.get(entity_id)
        if entity is not None:
            names.extend([entity.name, *entity.names_zh, *entity.aliases])
    return list(dict.fromkeys(names))


def entity_label(kb: KnowledgeBase, entity_id: str) -> str | None:
    entity = kb.get(entity_id)
    return entity.name if entity else None
