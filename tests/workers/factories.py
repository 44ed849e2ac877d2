"""Real articles for the workers tests and benchmarks: bilingual coverage of wrapper allegations.

Each template is a short news text of the kind the crawler hands over; `make_article(i)` gives
article i a distinct canonical URL (so a distinct article id) and cycles through the templates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shellwatch.domain import Article, Language

TEMPLATES: list[tuple[Language, str, str, str]] = [
    (
        Language.EN,
        "techdaily",
        "Developers say 01.AI's Yi-34B is Llama under renamed tensors",
        "Developers examining Yi-34B, the open model released by 01.AI, said its architecture is "
        "essentially identical to Meta's Llama, with two layers renamed. Critics accused the company "
        "of dressing up Llama as a home-grown model. 01.AI denied copying Llama and said the model "
        "was trained from scratch on its own data.",
    ),
    (
        Language.ZH,
        "kejixun",
        "字节跳动被指用ChatGPT生成的数据训练大模型，OpenAI暂停其账号",
        "据外媒报道，字节跳动被指在训练自家大模型时调用OpenAI接口，用ChatGPT生成的数据进行训练，"
        "涉嫌违反OpenAI的服务条款。OpenAI已暂停字节跳动的账号。字节跳动回应称，GPT接口只用于早期实验，"
        "并非用于训练豆包。",
    ),
    (
        Language.EN,
        "ai-ledger",
        "OpenAI says it has evidence DeepSeek distilled its models",
        "OpenAI said it had found evidence that the Chinese start-up DeepSeek used outputs of its "
        "models to train a competitor, a practice known as distillation. DeepSeek is suspected of "
        "obtaining GPT-4 outputs through the API. DeepSeek did not respond to requests for comment.",
    ),
    (
        Language.ZH,
        "hk-techwire",
        "Reflection 70B被質疑套殼Claude，開發者稱API直接轉發",
        "有開發者發現，號稱最強開源模型的Reflection 70B的API疑似直接轉發Anthropic的Claude，"
        "網友質疑其為套殼產品。Reflection團隊否認相關指控。",
    ),
]


def make_article(index: int, *, paragraphs: int = 1, fetched_at: datetime | None = None) -> Article:
    """Article `index`; `paragraphs` repeats the body to make analysis take longer."""
    language, source, title, text = TEMPLATES[index % len(TEMPLATES)]
    url = f"https://{source}.example/articles/{index}.html"
    published = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=index)
    return Article(
        url=url,
        canonical_url=url,
        source=source,
        language=language,
        title=title,
        text="\n\n".join([text] * paragraphs) + f"\n\n({index})",
        published_at=published,
        fetched_at=fetched_at or datetime.now(UTC),
    )
