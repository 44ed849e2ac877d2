"""Search test fixtures: a small knowledge base and factories for analysed articles.

The knowledge base is the NLP stage's real KnowledgeBase class over a few entities listed here, so
these tests pin the store's behaviour to known entities rather than to the contents of
nlp/data/knowledge_base.yaml, which people edit.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from nlp.knowledge_base import KnowledgeBase
from shellwatch.domain import (
    AnalysedArticle,
    Analysis,
    Article,
    Claim,
    ClaimType,
    Entity,
    EntityMention,
    EntityType,
    Language,
    Stance,
)
from tests.support.stores import emulator_url, store  # noqa: F401  (fixtures of the contract suites)

ENTITIES = [
    Entity(
        id="01-ai",
        name="01.AI",
        type=EntityType.ORG,
        names_zh=["零一万物", "零一萬物"],
        aliases=["01AI", "Lingyi Wanwu"],
    ),
    Entity(id="yi-34b", name="Yi-34B", type=EntityType.MODEL, aliases=["Yi 34B"], developer="01-ai"),
    Entity(id="baidu", name="Baidu", type=EntityType.ORG, names_zh=["百度"]),
    Entity(id="ernie-bot", name="ERNIE Bot", type=EntityType.MODEL, names_zh=["文心一言"], developer="baidu"),
    Entity(id="meta", name="Meta", type=EntityType.ORG, names_zh=["脸书"]),
    Entity(id="llama", name="Llama", type=EntityType.MODEL, aliases=["LLaMA", "Llama 2"], developer="meta"),
    Entity(id="bytedance", name="ByteDance", type=EntityType.ORG, names_zh=["字节跳动", "字節跳動"]),
    Entity(id="doubao", name="Doubao", type=EntityType.MODEL, names_zh=["豆包"], developer="bytedance"),
    Entity(id="openai", name="OpenAI", type=EntityType.ORG),
    Entity(id="gpt-4", name="GPT-4", type=EntityType.MODEL, developer="openai"),
]


@pytest.fixture
def kb() -> KnowledgeBase:
    return KnowledgeBase(ENTITIES)


_counter = itertools.count()


def make_claim(
    subject: str | None,
    claim_type: ClaimType = ClaimType.LLAMA_BASED,
    stance: Stance = Stance.ALLEGATION,
    *,
    subject_name: str | None = None,
    obj: str | None = None,
    confidence: float = 0.9,
) -> Claim:
    entity = {e.id: e for e in ENTITIES}.get(subject or "")
    return Claim(
        subject=subject,
        subject_name=subject_name or (entity.name if entity else subject or "?"),
        object=obj,
        object_name={e.id: e.name for e in ENTITIES}.get(obj or ""),
        type=claim_type,
        depth=claim_type.depth,
        stance=stance,
        evidence="evidence sentence",
        confidence=confidence,
    )


def make_article(
    title: str,
    text: str,
    *,
    lang: Language = Language.EN,
    source: str = "TechCrunch",
    published: str = "2023-11-15",
    claims: list[Claim] | None = None,
    mentions: list[str] | None = None,
    url: str | None = None,
) -> AnalysedArticle:
    url = url or f"https://news.example/{next(_counter)}"
    by_id = {e.id: e for e in ENTITIES}
    entity_ids = mentions if mentions is not None else [c.subject for c in claims or [] if c.subject]
    return AnalysedArticle(
        article=Article(
            url=url,
            canonical_url=url,
            source=source,
            language=lang,
            title=title,
            text=text,
            published_at=datetime.fromisoformat(published).replace(tzinfo=UTC),
            fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        ),
        analysis=Analysis(
            language=lang,
            relevant=True,
            relevance=0.9,
            entities=[
                EntityMention(id=i, name=by_id[i].name, type=by_id[i].type) for i in dict.fromkeys(entity_ids)
            ],
            claims=claims or [],
        ),
    )
