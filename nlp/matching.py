"""Finding entity names in text: knowledge-base names and unknown model names.

`NameMatcher` compiles every knowledge-base name (in its folded form, see nlp/script.py, with
separator variants: `llama 2`, `llama-2`, `llama2`) into one trie-shaped regular expression and
runs it over the folded text once. Folding keeps offsets, so a match is a span of the original
text too. This is what lets the Chinese pipeline use plain character tokens: a name is found the
same way whatever a word segmenter would have done to it.

`UnknownModelFinder` spots model names that are not in the knowledge base (`Foo-34B`, `XX大模型`)
with patterns from nlp/data/lexicons/names.yaml.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from nlp.knowledge_base import KnowledgeBase, name_key
from nlp.script import fold
from shellwatch.domain import EntityType

LEXICON_DIR = Path(__file__).resolve().parent / "data" / "lexicons"
SEPARATOR_RUN = re.compile(r"[\s\-_]+")
ASCII_WORD = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


@dataclass(eq=True, unsafe_hash=True, slots=True)
class Mention:
    """A name found in the text: offsets into the text, the entity id (None when unknown).

    Treated as immutable (hashed by value), but not `frozen`: a frozen dataclass sets each field
    through `object.__setattr__`, four times the cost of building one, and an analysis builds
    tens of thousands (names, then each clause's names at clause offsets)."""

    start: int
    end: int
    surface: str
    entity_id: str | None
    type: EntityType
    name: str  # canonical name, or the surface for an unknown name

    @property
    def linked(self) -> bool:
        return self.entity_id is not None


class NameMatcher:
    """All knowledge-base names in one pass over the folded text, longest match first."""

    def __init__(self, kb: KnowledgeBase, *, min_length: int = 2) -> None:
        self.kb = kb
        self._ids: dict[str, str] = {}
        for name, entity_id in kb.surface_names():
            for variant in _variants(fold(name.strip())):
                if len(variant) >= min_length:
                    self._ids.setdefault(variant, entity_id)
        # What a mention of each name carries: looked up once per match.
        self._entities = {
            variant: (entity.id, entity.type, entity.name)
            for variant, entity_id in self._ids.items()
            if (entity := kb.get(entity_id)) is not None
        }
        # Latin names start at a word start only: the lookbehind lets the scan skip the inside of
        # words quickly. Other names (Chinese) may start anywhere. A name ending in a letter or
        # digit must end a word ("Yi" is not in "Yield"); checking that inside the regex lets it
        # back off to a shorter name: "Doubao" in "a Doubao prompt", not the rejected "Doubao Pro".
        groups: dict[tuple[bool, bool], list[str]] = {}
        for name in self._ids:
            groups.setdefault((name[0] in ASCII_WORD, name[-1] in ASCII_WORD), []).append(name)
        parts = []
        for (starts_latin, ends_latin), names in sorted(groups.items(), reverse=True):
            parts.append(
                ("(?<![a-z0-9])" if starts_latin else "")
                + trie_regex(names)
                + ("(?![a-z0-9])" if ends_latin else "")
            )
        self._pattern = (
            re.compile(_first_char_gate(self._ids) + "(?:" + "|".join(parts) + ")") if parts else None
        )

    def find(self, text: str, folded: str | None = None) -> list[Mention]:
        if self._pattern is None:
            return []
        folded = fold(text) if folded is None else folded
        mentions = []
        entities = self._entities
        for match in self._pattern.finditer(folded):
            start, end = match.span()
            entity_id, kind, name = entities[match.group()]
            mentions.append(Mention(start, end, text[start:end], entity_id, kind, name))
        return mentions


def _first_char_gate(names: Iterable[str]) -> str:
    """A lookahead that fails fast where no name can start: the character there is no name's
    first, or (for a Latin first character) a word goes on before it. The regex engine tries a
    pattern at every position of the text; without the gate it walks into every alternative at
    each one. It only rejects positions where no alternative could match, so the matches are the
    same."""
    firsts = {name[0] for name in names}
    latin = "".join(re.escape(c) for c in sorted(firsts & ASCII_WORD))
    other = "".join(re.escape(c) for c in sorted(firsts - ASCII_WORD))
    options = []
    if latin:
        options.append(f"(?<![a-z0-9])(?=[{latin}])")
    if other:
        options.append(f"(?=[{other}])")
    return "(?:" + "|".join(options) + ")"


def _variants(name: str) -> set[str]:
    """The folded name as written, and with its separators as nothing, a space and a hyphen."""
    if not SEPARATOR_RUN.search(name):
        return {name}
    return {name, *(SEPARATOR_RUN.sub(joiner, name) for joiner in ("", " ", "-"))}


def trie_regex(words: Iterable[str]) -> str:
    """One regex whose alternatives share prefixes; greedy optional tails make the longest name win."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = True
    return _node_regex(trie)


def _node_regex(node: dict) -> str:
    terminal = "" in node
    branches = [re.escape(char) + _node_regex(child) for char, child in sorted(node.items()) if char != ""]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if terminal:
        return "(?:" + body + ")?"
    return body


class UnknownModelFinder:
    """Model names the knowledge base does not know, from the patterns in names.yaml."""

    def __init__(self, kb: KnowledgeBase, lexicon_file: Path | None = None) -> None:
        data = _load_yaml(lexicon_file or LEXICON_DIR / "names.yaml")
        self.kb = kb
        # Each pattern runs only when its cheap `requires` pattern occurs somewhere in the text.
        self._patterns = _gated_patterns(data["unknown_models"])
        self._generic = frozenset(fold(word) for word in data["generic_prefixes"])
        self._generic_names = frozenset(name_key(word) for word in data["generic_names"])
        self._function_chars = frozenset(data["function_characters"])
        words = sorted(data["leading_words"], key=len, reverse=True)
        self._leading = re.compile("(?:" + "|".join(map(re.escape, words)) + ")+")

    def find(self, text: str, known: list[Mention]) -> list[Mention]:
        taken = Spans((m.start, m.end) for m in known)
        found: list[Mention] = []
        for start, end in _name_spans(self._patterns, text):
            start += len(text[start:end]) - len(text[start:end].lstrip())
            if "\u4e00" <= text[start] <= "\u9fff":
                start = self._after_leading_words(text, start, end)
            surface = text[start:end].strip()
            if not surface or taken.overlaps(start, end) or not self._plausible(surface):
                continue
            # A size suffix on a known name is that model ("Qwen-72B"), not a new one.
            if self.kb.resolve(surface) is not None:
                continue
            taken.add(start, end)
            found.append(Mention(start, end, surface, None, EntityType.MODEL, surface))
        return found

    def _after_leading_words(self, text: str, start: int, end: int) -> int:
        """Where the name starts after the words that lead to it inside the Chinese run it was
        matched in, keeping two characters of name: 发现星河-34B, 否认观星-70B, 媒体称延河-13B."""
        run_end = start
        while run_end < end and "\u4e00" <= text[run_end] <= "\u9fff":
            run_end += 1
        for lead in self._leading.finditer(text, start, run_end):
            if run_end - lead.end() >= 2:
                start = lead.end()
        return start

    def _plausible(self, surface: str) -> bool:
        key = name_key(surface)
        if key in self._generic_names or len(key) < 3:
            return False
        folded = fold(surface)
        for suffix in ("大语言模型", "大模型", "模型"):
            if folded.endswith(suffix):
                prefix = folded[: -len(suffix)]
                # 国产大模型, 自研医疗大模型, 过去内地大模型: phrases around a generic word, not names.
                return (
                    bool(prefix)
                    and prefix not in self._generic
                    and not any(word in prefix for word in self._generic if len(word) > 1)
                    and not any(c in self._function_chars for c in prefix)
                )
        return True


class ProductNameFinder:
    """Names of products and companies the knowledge base does not know (WriteGenie, 「晴語」),
    found by the `product_names` patterns of names.yaml: candidates for a claim's subject."""

    def __init__(self, lexicon_file: Path | None = None) -> None:
        data = _load_yaml(lexicon_file or LEXICON_DIR / "names.yaml")
        self._patterns = _gated_patterns(data["product_names"])
        self._stop = frozenset(name_key(word) for word in data["product_stoplist"])
        self._function_chars = frozenset(data["function_characters"])
        self._reject = re.compile(data["product_reject"])

    def find(self, text: str, known: list[Mention]) -> list[Mention]:
        taken = Spans((m.start, m.end) for m in known)
        found: list[Mention] = []
        for start, end in _name_spans(self._patterns, text):
            surface = text[start:end]
            key = name_key(surface)
            if len(key) < 2 or key in self._stop or taken.overlaps(start, end):
                continue
            if not surface.startswith("某") and any(c in self._function_chars for c in surface):
                continue  # a phrase (原因是其, 这款模型), not a name
            if self._reject.search(surface):
                continue
            taken.add(start, end)
            kind = EntityType.ORG if ORG_SUFFIX.search(surface) else EntityType.MODEL
            found.append(Mention(start, end, surface, None, kind, surface))
        return sorted(found, key=lambda m: m.start)


ORG_SUFFIX = re.compile(r"(?:\b(?:AI|Labs|Tech|Inc)|科技|公司|智能)$")


def _gated_patterns(items: list[dict]) -> list[tuple[re.Pattern[str], re.Pattern[str]]]:
    """names.yaml patterns, each with its cheap `requires` pattern. An item's `starts` (what
    every match is at its start, e.g. `[A-Z]`) is tested first at each place, as a lookahead:
    the regex engine tries a pattern at every character, and most fail that test at once. It
    only rejects places where the pattern cannot match, so the matches are the same."""
    compiled = []
    for item in items:
        pattern = item["pattern"]
        if "starts" in item:
            pattern = f"(?={item['starts']}){pattern}"
        compiled.append((re.compile(item["requires"]), re.compile(pattern)))
    return compiled


def _name_spans(
    patterns: list[tuple[re.Pattern[str], re.Pattern[str]]], text: str
) -> Iterator[tuple[int, int]]:
    """The `name` group of every match, running a pattern only when its `requires` occurs in the text."""
    for requires, pattern in patterns:
        if requires.search(text):
            for match in pattern.finditer(text):
                yield match.span("name")


class Spans:
    """Non-overlapping (start, end) spans kept sorted, for overlap checks in logarithmic time."""

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        self._spans = sorted(spans)

    def overlaps(self, start: int, end: int) -> bool:
        index = bisect.bisect_left(self._spans, (start, start))
        return any(s < end and start < e for s, e in self._spans[max(0, index - 1) : index + 1])

    def add(self, start: int, end: int) -> None:
        bisect.insort(self._spans, (start, end))


@lru_cache(maxsize=8)
def _load_yaml(path: Path) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
