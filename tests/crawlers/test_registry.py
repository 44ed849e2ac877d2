"""The source registry: the shipped file and the errors a user editing it gets."""

import re
from pathlib import Path

import pytest

from crawlers.registry import RegistryError, load_sources
from shellwatch.config import PACKAGE_ROOT
from shellwatch.domain import Language

SHIPPED = PACKAGE_ROOT / "crawlers" / "sources.yaml"
TRADITIONAL_HOSTS = re.compile(r"\.tw/|\.hk/|\.tw$|\.hk$|feedburner\.com/rsscna")


def test_shipped_registry_covers_both_languages() -> None:
    sources = load_sources(SHIPPED)
    zh = [s for s in sources if s.language == Language.ZH]
    en = [s for s in sources if s.language == Language.EN]
    assert len(zh) >= 10 and len(en) >= 10
    traditional = [
        s for s in zh if any(TRADITIONAL_HOSTS.search(u) for u in [*s.feeds, *s.start_urls, s.homepage or ""])
    ]
    assert len(traditional) >= 3  # Taiwan and Hong Kong outlets, not only mainland ones
    assert any(s.sitemaps for s in sources) and any(s.start_urls and s.allow for s in sources)
    assert {"hacker-news", "reddit-localllama"} <= {s.name for s in sources}  # discussion venues


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources: [{name: a, language: fr, feeds: ['http://x/f']}]", "source a"),
        ("sources: [{name: a, language: zh}]", "has no feeds, sitemaps or start_urls"),
        ("sources: [{name: a, language: zh, feeds: ['ftp://x/f']}]", "not an http(s) URL"),
        ("sources: [{name: a, language: zh, feeds: ['http://x/f'], allow: ['(']}]", "allow pattern"),
        (
            "sources:\n- {name: a, language: zh, feeds: ['http://x/f']}\n- {name: a, language: en, feeds: ['http://y']}",
            "used twice",
        ),
        ("sources: {a: 1}", "`sources:` list"),
        ("sources: [", "cannot read"),
    ],
)
def test_registry_errors_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RegistryError, match=re.escape(message)):
        load_sources(write(tmp_path, text))
