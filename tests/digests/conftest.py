"""A December 2023 news month in a real SQLite store: two new incidents, one ongoing, both languages.

The articles follow real coverage of that month (ByteDance and the OpenAI API, Gemini Pro calling
itself Wenxin in Chinese, the Yi-34B/Llama debate that began in November) in shortened form.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from nlp.knowledge_base import KnowledgeBase, load_knowledge_base
from search import Store, open_store
from shellwatch.config import Settings
from shellwatch.domain import (
    AnalysedArticle,
    Analysis,
    Article,
    Claim,
    ClaimType,
    EntityMention,
    EntityType,
    Incident,
    IncidentStatus,
    Language,
    Stance,
    article_id,
)

TODAY = date(2024, 2, 10)  # "now" for the tests: December 2023 is complete, March 2024 is future
NOW = datetime(2024, 2, 10, 9, 30, tzinfo=UTC)


def when(day: str, hour: int = 8) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00")


def claim(subject: str, subject_name: str, type_: ClaimType, stance: Stance, evidence: str, **extra) -> Claim:
    return Claim(
        subject=subject,
        subject_name=subject_name,
        type=type_,
        depth=type_.depth,
        stance=stance,
        evidence=evidence,
        confidence=extra.pop("confidence", 0.85),
        **extra,
    )


def analysed(
    url: str,
    source: str,
    language: Language,
    title: str,
    published: datetime,
    claims: list[Claim],
    incidents: list[str],
    text: str = "",
) -> AnalysedArticle:
    entities = {(c.subject, c.subject_name) for c in claims if c.subject}
    return AnalysedArticle(
        article=Article(
            url=url,
            canonical_url=url,
            source=source,
            language=language,
            title=title,
            text=text or " ".join(c.evidence for c in claims) or title,
            published_at=published,
            fetched_at=published,
        ),
        analysis=Analysis(
            language=language,
            relevant=True,
            relevance=0.9,
            entities=[
                EntityMention(id=eid, name=name, type=EntityType.ORG, surface=[name])
                for eid, name in sorted(entities)
            ],
            claims=claims,
        ),
        incident_ids=incidents,
    )


BYTEDANCE = "inc-bytedance-openai-2023-12"
GEMINI = "inc-gemini-wenxin-2023-12"
YI = "inc-yi-llama-2023-11"


def december_2023() -> tuple[list[AnalysedArticle], list[Incident]]:
    """The articles and incidents of the scenario (November gives the previous-month figures)."""
    api = ClaimType.API_DISTILLED
    llama = ClaimType.LLAMA_BASED
    articles = [
        # November: Yi-34B and the Llama architecture (the ongoing incident starts here).
        analysed(
            "https://www.36kr.com/p/2518592536398848",
            "36氪",
            Language.ZH,
            "零一万物Yi-34B被指沿用Llama架构",
            when("2023-11-14", 6),
            [
                claim(
                    "yi-34b",
                    "Yi-34B",
                    llama,
                    Stance.ALLEGATION,
                    "开发者发现Yi-34B模型完全沿用了Llama的架构，只是重命名了两个张量。",
                    object="llama",
                    object_name="Llama",
                )
            ],
            [YI],
        ),
        analysed(
            "https://www.jiqizhixin.com/articles/2023-11-15-7",
            "机器之心",
            Language.ZH,
            "零一万物回应Yi模型架构争议",
            when("2023-11-15", 10),
            [
                claim(
                    "01-ai",
                    "零一万物",
                    llama,
                    Stance.DENIAL,
                    "零一万物回应称，模型训练过程中沿用了GPT/Llama的基本架构，但从零开始训练。",
                    speaker="零一万物",
                )
            ],
            [YI],
        ),
        analysed(
            "https://www.theverge.com/2023/11/20/unrelated-launch",
            "The Verge",
            Language.EN,
            "A model launch with no controversy",
            when("2023-11-20"),
            [],
            [],
        ),
        # December: Yi keeps being discussed (ongoing).
        analysed(
            "https://venturebeat.com/ai/yi-34b-llama-architecture-debate/",
            "VentureBeat",
            Language.EN,
            "The Yi-34B debate: what using Llama's architecture means",
            when("2023-12-04", 15),
            [
                claim(
                    "yi-34b",
                    "Yi-34B",
                    llama,
                    Stance.ANALYSIS,
                    "Researchers note that Yi-34B keeps Llama's architecture while its weights were trained from scratch.",
                    object="llama",
                    object_name="Llama",
                )
            ],
            [YI],
        ),
        # December: ByteDance and the OpenAI API (new).
        analysed(
            "https://www.theverge.com/2023/12/15/24003151/bytedance-china-openai-microsoft-competitor-llm",
            "The Verge",
            Language.EN,
            "ByteDance is secretly using OpenAI's tech to build a competitor",
            when("2023-12-15", 14),
            [
                claim(
                    "bytedance",
                    "ByteDance",
                    api,
                    Stance.ALLEGATION,
                    "ByteDance has been using OpenAI's API to develop its own large language model, internal documents show.",
                    object="openai",
                    object_name="OpenAI",
                )
            ],
            [BYTEDANCE],
        ),
        analysed(
            "https://www.36kr.com/p/2564731862447624",
            "36氪",
            Language.ZH,
            "字节跳动被曝用OpenAI技术开发大模型，账号遭暂停",
            when("2023-12-16", 2),
            [
                claim(
                    "bytedance",
                    "字节跳动",
                    api,
                    Stance.ALLEGATION,
                    "据报道，字节跳动在开发自己的大模型时调用了OpenAI的API。",
                    object="openai",
                    object_name="OpenAI",
                ),
                claim(
                    "bytedance",
                    "字节跳动",
                    api,
                    Stance.DENIAL,
                    "字节跳动回应称，公司在自研模型的早期探索中使用了GPT API进行评估，并未用于训练。",
                    speaker="字节跳动",
                ),
            ],
            [BYTEDANCE],
        ),
        analysed(
            "https://tech.sina.com.cn/i/2023-12-16/doc-imzyerbw1234567.shtml",
            "新浪科技",
            Language.ZH,
            "字节跳动回应使用OpenAI技术：仅用于早期测试",
            when("2023-12-16", 9),
            [
                claim(
                    "bytedance",
                    "字节跳动",
                    api,
                    Stance.DENIAL,
                    "字节跳动回应称，公司在自研模型的早期探索中使用了GPT API进行评估，并未用于训练。",
                    speaker="字节跳动",
                )
            ],
            [BYTEDANCE],
        ),
        # December: Gemini Pro says it is Baidu's Wenxin when asked in Chinese (new).
        analysed(
            "https://www.qbitai.com/2023/12/105432.html",
            "量子位",
            Language.ZH,
            "Gemini Pro中文自称“文心一言”，网友质疑训练数据",
            when("2023-12-18", 4),
            [
                claim(
                    "gemini",
                    "Gemini",
                    api,
                    Stance.ALLEGATION,
                    "网友发现，用中文询问Gemini Pro“你是谁”时，它回答自己是百度的文心大模型。",
                    object="ernie-bot",
                    object_name="文心一言",
                )
            ],
            [GEMINI],
        ),
        analysed(
            "https://www.scmp.com/tech/big-tech/article/3245858/google-gemini-baidu-ernie",
            "SCMP",
            Language.EN,
            "Google's Gemini Pro says it is Baidu's Ernie Bot when prompted in Chinese",
            when("2023-12-19", 11),
            [
                claim(
                    "gemini",
                    "Gemini",
                    api,
                    Stance.ALLEGATION,
                    "Users found that Gemini Pro identified itself as Baidu's Wenxin model when asked in Chinese.",
                    object="ernie-bot",
                    object_name="ERNIE Bot",
                )
            ],
            [GEMINI],
        ),
    ]
    incidents = [
        Incident(
            id=YI,
            subject="yi-34b",
            subject_name="Yi-34B",
            claim_types=[llama],
            status=IncidentStatus.DISPUTED,
            title_en="Yi-34B accused of reusing Llama's architecture",
            title_zh="零一万物Yi-34B被指套壳Llama",
            started_at=when("2023-11-14", 6),
            updated_at=when("2023-12-04", 15),
            article_ids=[article_id(a.article.canonical_url) for a in articles if YI in a.incident_ids],
        ),
        Incident(
            id=BYTEDANCE,
            subject="bytedance",
            subject_name="ByteDance",
            claim_types=[api],
            status=IncidentStatus.DISPUTED,
            title_en="ByteDance accused of using the OpenAI API to build its model",
            title_zh="字节跳动被指调用OpenAI接口训练大模型",
            started_at=when("2023-12-15", 14),
            updated_at=when("2023-12-16", 9),
            article_ids=[
                article_id(a.article.canonical_url) for a in articles if BYTEDANCE in a.incident_ids
            ],
        ),
        Incident(
            id=GEMINI,
            subject="gemini",
            subject_name="Gemini",
            claim_types=[api],
            status=IncidentStatus.ALLEGED,
            title_en="Gemini Pro calls itself Baidu's Wenxin in Chinese",
            title_zh="Gemini Pro中文自称文心一言",
            started_at=when("2023-12-18", 4),
            updated_at=when("2023-12-19", 11),
            article_ids=[article_id(a.article.canonical_url) for a in articles if GEMINI in a.incident_ids],
        ),
    ]
    return articles, incidents


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    from shellwatch.config import PACKAGE_ROOT

    return load_knowledge_base(PACKAGE_ROOT / "nlp" / "data" / "knowledge_base.yaml")


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """An empty SQLite store in the test's temporary data directory."""
    with open_store(settings) as opened:
        yield opened


def fill(store: Store, articles: list[AnalysedArticle], incidents: list[Incident]) -> None:
    for item in articles:
        store.upsert_article(item)
    for incident in incidents:
        store.upsert_incident(incident)


@pytest.fixture
def december_store(store: Store) -> Store:
    fill(store, *december_2023())
    return store
