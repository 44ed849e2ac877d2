"""Web test fixtures: a data directory with a small knowledge base and a store filled, through the
real pipeline function (workers.pipeline.store_analysed), with a bilingual corpus: the Yi-34B
controversy (simplified and traditional Chinese, English, a denial, a syndicated copy), a
ByteDance distillation story, and an article whose title and text carry XSS payloads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from search.backends.admin import TokenScope
from shellwatch.config import Settings, load_settings
from shellwatch.domain import (
    AnalysedArticle,
    Analysis,
    Article,
    Claim,
    ClaimType,
    EntityMention,
    EntityType,
    Language,
    Stance,
    to_dict,
)
from tests.search.conftest import ENTITIES

XSS_TITLE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss=2">Evil-7B 套壳'
XSS_TEXT = (
    "Evil-7B is accused of being a wrapper. <script>window.__xss = 3</script> "
    '<a href="javascript:window.__xss=4">click</a> Evil-7B 被指套壳 Llama。'
)
COPY_URL = "https://copy.example/yi-34b-llama"


@dataclass
class Corpus:
    yi_zh: AnalysedArticle
    yi_en: AnalysedArticle
    yi_denial: AnalysedArticle
    yi_copy: AnalysedArticle
    bytedance_en: AnalysedArticle
    bytedance_zh: AnalysedArticle
    xss: AnalysedArticle

    def all(self) -> list[AnalysedArticle]:
        return [
            self.yi_zh,
            self.yi_en,
            self.yi_denial,
            self.yi_copy,
            self.bytedance_en,
            self.bytedance_zh,
            self.xss,
        ]


def claim(
    subject: str | None,
    claim_type: ClaimType,
    stance: Stance,
    evidence: str,
    *,
    obj: str | None = None,
    subject_name: str | None = None,
    speaker: str | None = None,
) -> Claim:
    by_id = {e.id: e for e in ENTITIES}
    return Claim(
        subject=subject,
        subject_name=subject_name or by_id[subject].name,  # type: ignore[index]
        object=obj,
        object_name=by_id[obj].name if obj else None,
        type=claim_type,
        depth=claim_type.depth,
        stance=stance,
        speaker=speaker,
        evidence=evidence,
        confidence=0.9,
    )


def article(
    url: str,
    title: str,
    text: str,
    *,
    lang: Language,
    source: str,
    published: str,
    claims: list[Claim],
    also: list[str] | None = None,
    unknown: list[str] | None = None,
) -> AnalysedArticle:
    by_id = {e.id: e for e in ENTITIES}
    ids = list(dict.fromkeys(i for c in claims for i in (c.subject, c.object) if i))
    mentions = [EntityMention(id=i, name=by_id[i].name, type=by_id[i].type) for i in ids]
    mentions += [EntityMention(id=None, name=n, type=EntityType.MODEL, linked=False) for n in unknown or []]
    return AnalysedArticle(
        article=Article(
            url=url,
            canonical_url=url,
            source=source,
            language=lang,
            title=title,
            text=text,
            published_at=datetime.fromisoformat(published).replace(tzinfo=UTC),
            fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
            also_published_at=also or [],
        ),
        analysis=Analysis(language=lang, relevant=True, relevance=0.9, entities=mentions, claims=claims),
    )


def make_corpus() -> Corpus:
    yi_zh_evidence = "有开发者指出，零一万物的Yi-34B模型完全沿用了Llama的架构，只是改了两个张量的名字。"
    return Corpus(
        yi_zh=article(
            "https://36kr.example/yi-34b",
            "零一万物Yi-34B被指套壳Llama，仅改动两个张量名称",
            yi_zh_evidence + "\n此事在开源社区引发讨论。",
            lang=Language.ZH,
            source="36kr",
            published="2023-11-14T12:00:00",
            claims=[
                claim(
                    "yi-34b",
                    ClaimType.LLAMA_BASED,
                    Stance.ALLEGATION,
                    yi_zh_evidence,
                    obj="llama",
                    speaker="开发者",
                )
            ],
            also=[COPY_URL],
        ),
        yi_en=article(
            "https://techcrunch.example/01ai-yi-llama",
            "01.AI's Yi-34B accused of copying Meta's Llama architecture",
            "Researchers found that 01.AI's Yi-34B uses Llama's architecture with two tensors renamed.",
            lang=Language.EN,
            source="TechCrunch",
            published="2023-11-15T09:00:00",
            claims=[
                claim(
                    "yi-34b",
                    ClaimType.LLAMA_BASED,
                    Stance.ALLEGATION,
                    "Researchers found that 01.AI's Yi-34B uses Llama's architecture with two tensors renamed.",
                    obj="llama",
                )
            ],
        ),
        yi_denial=article(
            "https://hk.example/01ai-response",
            "零一萬物回應：Yi-34B沿用Llama架構是疏忽，模型從零訓練",
            "零一萬物回應稱，模型從零開始訓練，並非套殼。",
            lang=Language.ZH,
            source="明報",
            published="2023-11-16T08:00:00",
            claims=[
                claim(
                    "yi-34b",
                    ClaimType.LLAMA_BASED,
                    Stance.DENIAL,
                    "零一萬物回應稱，模型從零開始訓練，並非套殼。",
                    obj="llama",
                    speaker="零一萬物",
                )
            ],
        ),
        yi_copy=article(
            COPY_URL,
            "转载：零一万物Yi-34B被指套壳Llama",
            yi_zh_evidence,
            lang=Language.ZH,
            source="sina",
            published="2023-11-14T13:00:00",
            claims=[
                claim(
                    "yi-34b",
                    ClaimType.LLAMA_BASED,
                    Stance.ALLEGATION,
                    yi_zh_evidence,
                    obj="llama",
                    speaker="开发者",
                )
            ],
        ),
        bytedance_en=article(
            "https://verge.example/bytedance-openai",
            "ByteDance is secretly using OpenAI's tech to build a competitor",
            "ByteDance used the OpenAI API to generate training data for its own model, documents show.",
            lang=Language.EN,
            source="The Verge",
            published="2023-12-15T10:00:00",
            claims=[
                claim(
                    "bytedance",
                    ClaimType.API_DISTILLED,
                    Stance.ALLEGATION,
                    "ByteDance used the OpenAI API to generate training data for its own model.",
                    obj="gpt-4",
                )
            ],
        ),
        bytedance_zh=article(
            "https://ithome.example/bytedance-response",
            "字节跳动回应使用OpenAI接口：仅在早期测试中使用",
            "字节跳动回应称，仅在早期测试中使用了OpenAI接口，并未用于训练豆包。",
            lang=Language.ZH,
            source="IT之家",
            published="2023-12-16T10:00:00",
            claims=[
                claim(
                    "bytedance",
                    ClaimType.API_DISTILLED,
                    Stance.DENIAL,
                    "字节跳动回应称，仅在早期测试中使用了OpenAI接口，并未用于训练豆包。",
                    obj="gpt-4",
                )
            ],
        ),
        xss=article(
            "https://evil.example/evil-7b",
            XSS_TITLE,
            XSS_TEXT,
            lang=Language.EN,
            source="evil",
            published="2024-02-01T10:00:00",
            claims=[
                claim(
                    None,
                    ClaimType.API_WRAPPER,
                    Stance.ALLEGATION,
                    '<script>window.__xss = 5</script>Evil-7B is "a thin wrapper" around <b>GPT-4</b>',
                    subject_name="Evil-7B",
                )
            ],
            also=["javascript:window.__xss=6"],
            unknown=["Evil-7B"],
        ),
    )


def write_kb(path: Path) -> Path:
    path.write_text(
        yaml.safe_dump({"entities": [to_dict(e) for e in ENTITIES]}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def web_settings(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Embedded settings with a test knowledge base and an empty source registry."""
    monkeypatch.setenv("SHELLWATCH_KNOWLEDGE_BASE", str(write_kb(tmp_path / "kb.yaml")))
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        "- name: 36kr\n  language: zh\n  feeds: ['https://36kr.example/feed']\n"
        "- name: TechCrunch\n  language: en\n  feeds: ['https://techcrunch.example/feed']\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SHELLWATCH_SOURCES", str(sources))
    monkeypatch.setenv("SHELLWATCH_PUBLIC_URL", "http://shellwatch.test")
    return load_settings()


def fill_store(settings: Settings, corpus: Corpus) -> None:
    """Run every article through the pipeline's store step (store, incidents, alerts)."""
    from search import open_store
    from search.entities import load_kb
    from workers.pipeline import store_analysed

    kb = load_kb(settings)
    with open_store(settings) as store:
        for analysed in corpus.all():
            store_analysed(store, analysed, kb)


@pytest.fixture
def corpus() -> Corpus:
    return make_corpus()


@pytest.fixture
def filled(web_settings: Settings, corpus: Corpus) -> Settings:
    fill_store(web_settings, corpus)
    return web_settings


@pytest.fixture
def client(filled: Settings) -> Iterator[TestClient]:
    from web.app import create_app

    with TestClient(create_app(filled), raise_server_exceptions=False) as test_client:
        yield test_client


def make_token(settings: Settings, scope: TokenScope, name: str = "test") -> str:
    from search import open_store
    from web.auth import create_token

    with open_store(settings) as store:
        return create_token(store, name, scope)[1]


@pytest.fixture
def write_token(filled: Settings) -> str:
    return make_token(filled, TokenScope.WRITE, "analyst")


@pytest.fixture
def read_token(filled: Settings) -> str:
    return make_token(filled, TokenScope.READ, "reader")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
