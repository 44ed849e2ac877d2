"""The test newsroom's content: bilingual allegation articles, syndicated copies and bad pages.

Every story has its own fictional model (`Vantor-13B`, `Qiluo-7B`, …), so each story raises one
distinct allegation and one alert per subscription; the texts are the ones the harness checks with
the real analyzer before the run (`check_corpus`). Sentences carry the story number, so two stories
never look like syndicated copies of each other; a copy repeats its story's text under a new title.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass

FIRST = ["Va", "Qi", "Lu", "Ze", "Mo", "Ka", "Ti", "Ro", "Su", "Ne", "Fa", "Gu", "Ha", "Jo", "Pe", "Xo"]
SECOND = ["ntor", "luo", "vix", "rin", "dal", "mek", "sar", "tura", "lon", "qua", "pix", "rel", "zon", "bex"]
SIZES = ["7B", "13B", "34B", "70B", "8B", "14B", "32B", "72B", "3B", "22B", "40B", "9B", "6B", "12B", "20B"]

BAD_KINDS = ("http500", "http404", "empty", "binary", "no_text", "pdf", "truncated")


@dataclass(frozen=True)
class Story:
    number: int
    language: str  # "zh" or "en"
    outlet: str  # the feed it appears in
    model: str  # the fictional model the allegation is about
    title: str
    text: str
    copy_outlet: str | None = None  # the aggregator that republishes it (转载), if any

    @property
    def path(self) -> str:
        return f"/{self.outlet}/article/{self.number:05d}.html"

    @property
    def copy_path(self) -> str | None:
        return f"/{self.copy_outlet}/article/{self.number:05d}.html" if self.copy_outlet else None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class BadPage:
    number: int
    outlet: str
    kind: str

    @property
    def path(self) -> str:
        return f"/{self.outlet}/article/bad-{self.number:05d}.html"


def model_names() -> list[str]:
    """Distinct fictional model names, in a fixed pseudo-random order."""
    names = [f"{a}{b}-{size}" for a, b, size in itertools.product(FIRST, SECOND, SIZES)]
    random.Random(7).shuffle(names)
    return names


def story(number: int, model: str, *, copy_every: int = 8) -> Story:
    """Story `number`: even numbers in Chinese, odd in English; every `copy_every`-th is syndicated."""
    language = "zh" if number % 2 == 0 else "en"
    if language == "zh":
        title = f"{model}被指套壳Llama"
        text = (
            f"{model}被指套壳Llama。"
            f"第{number}号报道：社区开发者对权重文件进行了逐层比对，并在论坛公开了第{number}版比对脚本。"
            f"该公司发言人表示将于下周说明情况，编号{number}。"
        )
        outlet, copy_outlet = "kejibao", "zhuanzai"
    else:
        title = f"{model} accused of being built on Llama"
        text = (
            f"{model} was accused of being built on Llama. "
            f"Report {number}: community developers compared the weight files layer by layer and "
            f"published their scripts on a forum, in a debate about wrappers. "
            f"A spokesperson said the company would explain next week (case {number})."
        )
        outlet, copy_outlet = "ledger", "wire"
    return Story(
        number=number,
        language=language,
        outlet=outlet,
        model=model,
        title=title,
        text=text,
        copy_outlet=copy_outlet if number % copy_every in (2, 3) else None,
    )


def stories(count: int, *, copy_every: int = 8) -> list[Story]:
    names = model_names()
    if count > len(names):
        raise ValueError(f"only {len(names)} distinct model names for {count} stories")
    return [story(number, names[number], copy_every=copy_every) for number in range(count)]


def copy_title(item: Story) -> str:
    if item.language == "zh":
        return f"【转载】开发者质疑{item.model}的来源"
    return f"Wire: questions over where {item.model} came from"


def copy_text(item: Story) -> str:
    """The syndicated copy: the same sentences with a republication line around them."""
    if item.language == "zh":
        return f"转载自科技报。\n{item.text}\n（本文仅代表作者观点。）"
    return f"Republished from The Ledger.\n{item.text}\n(Views are the author's own.)"


def check_corpus(items: list[Story]) -> list[tuple[Story, str]]:
    """Run the real analyzer on every story; return those that do not raise exactly one allegation."""
    from datetime import UTC, datetime

    from nlp import load_analyzer
    from shellwatch.config import load_settings
    from shellwatch.domain import Article

    analyzer = load_analyzer(load_settings())
    problems = []
    for item in items:
        url = f"http://127.0.0.1{item.path}"
        article = Article(
            url=url,
            canonical_url=url,
            source=item.outlet,
            language=item.language,
            title=item.title,
            text=item.text,
            fetched_at=datetime.now(UTC),
        )
        analysis = analyzer.analyze_article(article)
        allegations = [c for c in analysis.claims if c.stance.value == "allegation"]
        if not analysis.relevant:
            problems.append((item, f"not relevant ({analysis.relevance})"))
        elif [c.subject_name for c in allegations] != [item.model]:
            problems.append((item, f"allegations {[(c.subject_name, c.type.value) for c in allegations]}"))
    return problems
