"""The knowledge base of organisations, models and people (nlp/data/knowledge_base.yaml).

The file is data people edit: a YAML mapping with an `entities:` list whose items have exactly the
fields of `shellwatch.domain.Entity`. Loading validates it (unknown fields, duplicate ids, a
`developer` that names no organisation) and fails with a message naming the entry.

`KnowledgeBase.resolve` finds an entity by any of its names, case-, width-, script- and
separator-insensitively: `LLaMA`, `Llama2`, `Llama 2`, `llama-2` and `零一萬物` all resolve.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml
from pydantic import ValidationError

from nlp.script import fold
from shellwatch.domain import Entity, EntityType

log = logging.getLogger(__name__)

# Characters a name may or may not be written with: "Llama 2" = "Llama-2" = "Llama2", "01.AI" = "01AI".
SEPARATORS = re.compile(r"[\s\-_.·・/,'’:：]+")


class KnowledgeBaseError(ValueError):
    """The knowledge-base file is missing or malformed; the message says where."""


def name_key(name: str) -> str:
    """The key two spellings of one name share: folded (script, width, case), separators dropped."""
    return SEPARATORS.sub("", fold(name.strip()))


class KnowledgeBase:
    """Entities by id and by every name; the model ↔ developer links."""

    def __init__(self, entities: Iterable[Entity]) -> None:
        self._by_id: dict[str, Entity] = {}
        for entity in entities:
            if entity.id in self._by_id:
                raise KnowledgeBaseError(f"duplicate entity id {entity.id!r}")
            self._by_id[entity.id] = entity
        for entity in self._by_id.values():
            if entity.developer is not None and entity.developer not in self._by_id:
                raise KnowledgeBaseError(
                    f"entity {entity.id!r}: developer {entity.developer!r} is not in the knowledge base"
                )
        self._parties: dict[str, str] = {}  # entity id → top organisation, filled as asked
        self._by_key: dict[str, str] = {}
        self.ambiguous: dict[str, list[str]] = {}
        # Canonical names and ids first, so an alias never takes a name another entity is called by.
        for pass_names in (_primary_names, _secondary_names):
            for entity in self._by_id.values():
                for name in pass_names(entity):
                    self._index(name, entity.id)
        self._models_of: dict[str, list[Entity]] = {}
        for entity in self._by_id.values():
            if entity.developer is not None:
                self._models_of.setdefault(entity.developer, []).append(entity)

    def _index(self, name: str, entity_id: str) -> None:
        key = name_key(name)
        if not key:
            return
        owner = self._by_key.setdefault(key, entity_id)
        if owner != entity_id:
            self.ambiguous.setdefault(key, [owner])
            if entity_id not in self.ambiguous[key]:
                self.ambiguous[key].append(entity_id)

    @property
    def entities(self) -> list[Entity]:
        return list(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, entity_id: object) -> bool:
        return entity_id in self._by_id

    def __iter__(self) -> Iterator[Entity]:
        return iter(self._by_id.values())

    def get(self, entity_id: str) -> Entity | None:
        return self._by_id.get(entity_id)

    def resolve(self, name: str) -> Entity | None:
        """The entity called `name` (an id or any name, in any script, case or width), or None."""
        if name in self._by_id:
            return self._by_id[name]
        entity_id = self._by_key.get(name_key(name))
        return self._by_id[entity_id] if entity_id else None

    def models_of(self, org_id: str) -> list[Entity]:
        """The models (and products) an organisation develops, in file order."""
        return [e for e in self._models_of.get(org_id, []) if e.type is EntityType.MODEL]

    def people_of(self, org_id: str) -> list[Entity]:
        return [e for e in self._models_of.get(org_id, []) if e.type is EntityType.PERSON]

    def developer_of(self, model_id: str) -> Entity | None:
        """The organisation behind a model (or a person's organisation), or None."""
        entity = self._by_id.get(model_id)
        if entity is None or entity.developer is None:
            return None
        return self._by_id.get(entity.developer)

    def same_party(self, a: str | None, b: str | None) -> bool:
        """True when `a` and `b` are one party: equal, or a model/person and its organisation."""
        if a is None or b is None:
            return False
        return self._party(a) == self._party(b)

    def _party(self, entity_id: str) -> str:
        """The top organisation: a model's developer's parent (qwen → alibaba-cloud → alibaba)."""
        party = self._parties.get(entity_id)
        if party is None:
            party = self._parties[entity_id] = self._walk_to_party(entity_id)
        return party

    def _walk_to_party(self, entity_id: str) -> str:
        seen = {entity_id}
        entity = self._by_id.get(entity_id)
        while entity is not None and entity.developer is not None and entity.developer not in seen:
            seen.add(entity.developer)
            entity_id = entity.developer
            entity = self._by_id.get(entity_id)
        return entity_id

    def surface_names(self) -> Iterator[tuple[str, str]]:
        """(name, entity id) for every name of every entity, the input of text matchers."""
        for entity in self._by_id.values():
            for name in _primary_names(entity) + _secondary_names(entity):
                if self._by_key.get(name_key(name)) == entity.id:
                    yield name, entity.id


def _primary_names(entity: Entity) -> list[str]:
    return [entity.name]


def _secondary_names(entity: Entity) -> list[str]:
    return [*entity.names_zh, *entity.aliases]


def load_knowledge_base(path: Path | str) -> KnowledgeBase:
    """Read and validate the knowledge-base YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KnowledgeBaseError(f"cannot read the knowledge base {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("entities"), list):
        raise KnowledgeBaseError(f"{path}: expected a mapping with an `entities:` list")
    entities = []
    for position, item in enumerate(data["entities"], start=1):
        try:
            entities.append(Entity.model_validate(item))
        except ValidationError as exc:
            label = item.get("id", f"#{position}") if isinstance(item, dict) else f"#{position}"
            raise KnowledgeBaseError(f"{path}: entity {label}: {exc}") from None
    kb = KnowledgeBase(entities)
    for key, owners in kb.ambiguous.items():
        log.debug("knowledge base name %r is shared by %s; it resolves to %s", key, owners, owners[0])
    return kb
