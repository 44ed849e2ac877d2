"""The domain vocabulary of ShellWatch, defined once (see shared/DOMAIN.md).

Every record that crosses a stage boundary (crawl → analyse → store → alert/digest) is one of the
pydantic models below; `to_json` / `from_json` are the only place they are (de)serialised.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class Language(StrEnum):
    ZH = "zh"  # simplified and traditional Chinese
    EN = "en"


class ClaimType(StrEnum):
    SELF_DEVELOPED = "self_developed"
    LLAMA_BASED = "llama_based"
    API_DISTILLED = "api_distilled"
    API_WRAPPER = "api_wrapper"
    PROMPT_WRAPPER = "prompt_wrapper"
    RAG_WRAPPER = "rag_wrapper"
    FINE_TUNED = "fine_tuned"

    @property
    def depth(self) -> int | None:
        """Wrapping depth as industry commentary ranks it; None for types outside that scale."""
        return WRAPPING_DEPTH.get(self)


# 1 = a pure reseller of someone else's API … 5 = pre-training that imitates an open architecture.
WRAPPING_DEPTH: dict[ClaimType, int] = {
    ClaimType.API_WRAPPER: 1,
    ClaimType.PROMPT_WRAPPER: 2,
    ClaimType.RAG_WRAPPER: 3,
    ClaimType.FINE_TUNED: 4,
    ClaimType.LLAMA_BASED: 5,
}


class Stance(StrEnum):
    ALLEGATION = "allegation"  # a third party claims or suspects it
    DENIAL = "denial"  # the accused party denies it
    ADMISSION = "admission"  # the accused party acknowledges it
    SELF_CLAIM = "self_claim"  # a party states its own provenance
    ANALYSIS = "analysis"  # neutral explainers, opinion, history


RESPONSE_STANCES = frozenset({Stance.DENIAL, Stance.ADMISSION})


class EntityType(StrEnum):
    ORG = "org"
    MODEL = "model"
    PERSON = "person"


class IncidentStatus(StrEnum):
    ALLEGED = "alleged"
    DISPUTED = "disputed"  # the accused denied
    CONFIRMED = "confirmed"  # the accused admitted


class Frequency(StrEnum):
    IMMEDIATE = "immediate"
    DAILY = "daily"
    WEEKLY = "weekly"


class ChannelKind(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    FEED = "feed"


class Record(BaseModel):
    """Base of every record that crosses a boundary: strict about unknown fields, JSON-safe."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False, frozen=False)


def stable_id(*parts: str, length: int = 16) -> str:
    """A deterministic id from its defining parts, so retries and re-runs write the same record."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


class Source(Record):
    """One outlet in the source registry (crawlers/sources.yaml)."""

    name: str
    language: Language
    feeds: list[str] = Field(default_factory=list)
    sitemaps: list[str] = Field(default_factory=list)
    start_urls: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list)
    interval_minutes: int = 10
    homepage: str | None = None
    override: str | None = None  # dotted path of a per-source hook for sites that need one


class Article(Record):
    """A fetched, extracted news article: the crawler's output, the worker's input."""

    url: str
    canonical_url: str
    source: str
    language: Language
    title: str
    text: str
    author: str | None = None
    published_at: AwareDatetime | None = None
    fetched_at: AwareDatetime
    also_published_at: list[str] = Field(default_factory=list)  # syndicated copies (转载)
    id: str = ""  # always derived from canonical_url; any value given is replaced

    @model_validator(mode="after")
    def _derive_id(self) -> Article:
        self.id = article_id(self.canonical_url)
        return self


def article_id(canonical_url: str) -> str:
    return stable_id("article", canonical_url)


class Entity(Record):
    """A knowledge-base entry: one canonical id and English name, aliases in every script."""

    id: str
    name: str
    type: EntityType
    names_zh: list[str] = Field(default_factory=list)  # simplified and traditional
    aliases: list[str] = Field(default_factory=list)
    developer: str | None = None  # for a model: the id of the organisation that builds it
    description: str | None = None


class EntityMention(Record):
    """An entity found in an article; `linked` is False for unknown names (`Foo-34B`, `XX大模型`)."""

    id: str | None
    name: str
    type: EntityType
    surface: list[str] = Field(default_factory=list)
    linked: bool = True


class Claim(Record):
    """One provenance claim an article reports."""

    subject: str | None  # entity id (None when only an unknown name was found)
    subject_name: str
    object: str | None = None  # the model it is said to derive from
    object_name: str | None = None
    type: ClaimType
    depth: int | None = None
    stance: Stance
    speaker: str | None = None
    evidence: str
    confidence: float = Field(ge=0.0, le=1.0)


class Analysis(Record):
    """What the NLP stage found in one article (the `shellwatch analyze --json` shape)."""

    language: Language
    relevant: bool
    relevance: float = Field(ge=0.0, le=1.0)
    entities: list[EntityMention] = Field(default_factory=list)
    claims: list[Claim] = Field(default_factory=list)
    event_dates: list[str] = Field(default_factory=list)  # ISO dates mentioned in the text
    notes: list[str] = Field(default_factory=list)  # e.g. "input cut at 200000 characters"


class AnalysedArticle(Record):
    """An article with its analysis: what the store indexes and what alerts and digests read."""

    article: Article
    analysis: Analysis
    incident_ids: list[str] = Field(default_factory=list)

    @property
    def id(self) -> str:
        return self.article.id


class Incident(Record):
    """One controversy: a subject, its claim types, a first allegation, responses and coverage."""

    id: str
    subject: str | None
    subject_name: str
    claim_types: list[ClaimType]
    status: IncidentStatus = IncidentStatus.ALLEGED
    title_en: str
    title_zh: str
    started_at: AwareDatetime  # the first allegation
    updated_at: AwareDatetime
    article_ids: list[str] = Field(default_factory=list)
    allegation_keys: list[str] = Field(default_factory=list)  # see allegation_key()

    @property
    def depth(self) -> int | None:
        depths = [t.depth for t in self.claim_types if t.depth is not None]
        return min(depths) if depths else None


def allegation_key(claim: Claim) -> str:
    """What makes an allegation 'the same' for alerting: who, what type, derived from what."""
    return stable_id("allegation", claim.subject or claim.subject_name, claim.type, claim.object or "")


class Channel(Record):
    kind: ChannelKind
    target: str = ""  # webhook URL or e-mail address; empty for a feed
    format: str = "json"  # webhook only: "json" or "slack"


class Subscription(Record):
    """What a user wants to hear about, how often, and where."""

    id: str
    name: str
    entities: list[str] = Field(default_factory=list)  # entity ids; a company also matches its models
    claim_types: list[ClaimType] = Field(default_factory=list)
    max_depth: int | None = None
    stances: list[Stance] = Field(default_factory=lambda: [Stance.ALLEGATION])
    languages: list[Language] = Field(default_factory=list)
    query: str | None = None  # in the search syntax
    min_confidence: float = 0.0
    frequency: Frequency = Frequency.IMMEDIATE
    channels: list[Channel] = Field(default_factory=list)
    paused: bool = False
    secret: str = ""  # HMAC key for webhooks and the feed URL token
    created_at: AwareDatetime


class Alert(Record):
    """One new allegation for one subscription; `id` is the exactly-once delivery key."""

    id: str
    subscription_id: str
    incident_id: str | None
    article_id: str
    claim: Claim
    created_at: AwareDatetime


def alert_id(subscription_id: str, claim: Claim) -> str:
    return stable_id("alert", subscription_id, allegation_key(claim))


RecordT = TypeVar("RecordT", bound=BaseModel)


def to_json(record: BaseModel) -> str:
    """The one serialiser for records on the wire and on disk."""
    return record.model_dump_json()


def to_dict(record: BaseModel) -> dict[str, Any]:
    return record.model_dump(mode="json")


def from_json(model: type[RecordT], payload: str | bytes) -> RecordT:
    return model.model_validate_json(payload)
