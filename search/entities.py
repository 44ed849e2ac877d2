"""How the store uses the knowledge base: resolve names, expand a document's entities, label facets.

The knowledge base itself is the NLP stage's (`nlp.knowledge_base`); this module only states the
part of its interface the store relies on and derives the entity ids a document is indexed under.
"""

from __future__ import annotations

from typing import Any, Protocol

from search.backends.base import StoreError
from shellwatch.config import Settings
from shellwatch.domain import AnalysedArticle, Entity, EntityType


class KnowledgeBase(Protocol):
    """The subset of nlp.knowledge_base.KnowledgeBase the store needs. `models_of` and
    `developer_of` may answer with ids or with Entity records: both are accepted (see models_of)."""

    @property
    def entities(self) -> list[Entity]: ...

    def get(self, entity_id: str) -> Entity | None: ...

    def resolve(self, name: str) -> Entity | None: ...

    def models_of(self, org_id: str) -> list[Any]: ...

    def developer_of(self, model_id: str) -> Any: ...


class EmptyKnowledgeBase:
    """No entities at all: for a store opened without a knowledge base (benchmarks, tools)."""

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
    """The configured knowledge base; a missing or malformed file is a StoreError naming it."""
    from nlp.knowledge_base import KnowledgeBaseError, load_knowledge_base

    try:
        return load_knowledge_base(settings.knowledge_base_file)
    except KnowledgeBaseError as exc:
        raise StoreError(f"cannot load the knowledge base (SHELLWATCH_KNOWLEDGE_BASE): {exc}") from exc


def resolve_entity_id(kb: KnowledgeBase, name: str) -> str:
    """An id for any name, alias or id; unresolvable names are kept (folded) so they match nothing odd."""
    entity = kb.get(name) or kb.resolve(name)
    return entity.id if entity else name.strip().lower()


def models_of(kb: KnowledgeBase, org_id: str) -> list[str]:
    """Ids of an organisation's models (the KB answers with Entity records; ids are accepted too)."""
    return [_id(model) for model in kb.models_of(org_id)]


def developer_of(kb: KnowledgeBase, model_id: str) -> str | None:
    """Id of the organisation behind a model, or None."""
    developer = kb.developer_of(model_id)
    return _id(developer) if developer is not None else None


def _id(item: Entity | str) -> str:
    return item.id if isinstance(item, Entity) else item


def entity_family(kb: KnowledgeBase, entity_id: str) -> list[str]:
    """The entity and, for an organisation, its models: what `entity:X` and subscriptions match."""
    return [entity_id, *models_of(kb, entity_id)]


def org_of(kb: KnowledgeBase, entity_id: str) -> str:
    """The organisation behind a model, or the entity itself."""
    entity = kb.get(entity_id)
    if entity is not None and entity.type is EntityType.MODEL:
        return developer_of(kb, entity_id) or entity_id
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
        developer = developer_of(kb, entity_id)
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
