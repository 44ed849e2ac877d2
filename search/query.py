"""The query syntax people type, parsed into a small tree each backend compiles.

    words                   all must appear (stemmed in English, any script in Chinese)
    "quoted phrase"         the words in this order
    a OR b, a AND b, NOT a  operators in capitals; adjacent terms are ANDed; `-word` is NOT word
    ( … )                   grouping
    entity:baidu            an entity by id or any name (entity:零一萬物, entity:"Zhipu AI");
                            a company also matches coverage of its models
    type:llama_based        a claim type; stance:denial; lang:zh; source:36kr
    depth:<=2               wrapping depth (=, <, <=, >, >=, or a range 2..4)
    from:2023-11 to:2023-12 publication dates (YYYY, YYYY-MM or YYYY-MM-DD; `to:` is inclusive)

`parse_query` raises `QueryError(message, position)` on a malformed query; the position is the
character offset of the problem, which `QueryError.caret()`-style displays point at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from search.backends.base import QueryError
from shellwatch.domain import ClaimType, Language, Stance

FILTERS = ("entity", "type", "stance", "depth", "lang", "source", "from", "to")
OPERATORS = ("AND", "OR", "NOT")
COMPARATORS = ("<=", ">=", "<", ">", "=")
MAX_DEPTH = 5
FIRST_YEAR, LAST_YEAR = 1900, 2999  # from: / to: dates outside are typos


@dataclass(frozen=True)
class Term:
    text: str
    position: int
    prefix: bool = False  # `word*`


@dataclass(frozen=True)
class Phrase:
    text: str
    position: int


@dataclass(frozen=True)
class Filter:
    """A field condition. `value` is normalised: an enum value, an int range, a datetime bound."""

    name: str
    value: object
    position: int


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Term | Phrase | Filter | And | Or | Not


@dataclass(frozen=True)
class DepthRange:
    low: int
    high: int


@dataclass(frozen=True)
class Query:
    source: str
    root: Node | None  # None: the empty query, which matches everything

    def positive_text(self) -> list[str]:
        """Words and phrases that should be highlighted (not those under NOT)."""
        found: list[str] = []

        def walk(node: Node | None) -> None:
            if isinstance(node, Term | Phrase):
                found.append(node.text)
            elif isinstance(node, And | Or):
                for child in node.children:
                    walk(child)

        walk(self.root)
        return found

    def has_text(self) -> bool:
        def walk(node: Node | None) -> bool:
            if isinstance(node, Term | Phrase):
                return True
            if isinstance(node, And | Or):
                return any(walk(c) for c in node.children)
            if isinstance(node, Not):
                return walk(node.child)
            return False

        return walk(self.root)


def parse_query(source: str) -> Query:
    """Parse a query; raise QueryError pointing at the first problem."""
    tokens = _tokenize(source)
    parser = _Parser(source, tokens)
    root = parser.parse()
    return Query(source=source, root=root)


# Tokenizer --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "op", "phrase", "word", "filter", "-"
    text: str
    position: int
    filter_name: str | None = None


_FILTER_HEAD = re.compile(r"([A-Za-z]+):")


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
        elif ch in "()（）":
            tokens.append(_Token("(" if ch in "(（" else ")", ch, i))
            i += 1
        elif ch in '"“”':
            end = _closing_quote(source, i)
            tokens.append(_Token("phrase", source[i + 1 : end], i))
            i = end + 1
        elif ch == "-" and i + 1 < n and not source[i + 1].isspace() and _at_term_start(source, i):
            tokens.append(_Token("-", ch, i))
            i += 1
        else:
            head = _FILTER_HEAD.match(source, i)
            if head and (head.group(1).lower() in FILTERS or not _looks_like_url(source, head.end())):
                name = head.group(1).lower()
                if name not in FILTERS:
                    raise QueryError(
                        f"unknown filter '{head.group(1)}:' (known: {', '.join(f + ':' for f in FILTERS)})", i
                    )
                j = head.end()
                if j < n and source[j] in '"“”':
                    end = _closing_quote(source, j)
                    value, i = source[j + 1 : end], end + 1
                else:
                    i = _word_end(source, j)
                    value = source[j:i]
                if not value.strip():
                    raise QueryError(f"'{name}:' needs a value, e.g. {_example(name)}", j)
                tokens.append(_Token("filter", value.strip(), j, filter_name=name))
                continue
            end = _word_end(source, i)
            word = source[i:end]
            tokens.append(_Token("op" if word in OPERATORS else "word", word, i))
            i = end
    return tokens


def _closing_quote(source: str, start: int) -> int:
    for j in range(start + 1, len(source)):
        if source[j] in '"“”':
            return j
    raise QueryError('unterminated quote: add the closing "', start)


def _word_end(source: str, i: int) -> int:
    while i < len(source) and not source[i].isspace() and source[i] not in '()（）"“”':
        i += 1
    return i


def _at_term_start(source: str, i: int) -> bool:
    return i == 0 or source[i - 1].isspace() or source[i - 1] in "(（"


def _looks_like_url(source: str, after_colon: int) -> bool:
    return source.startswith("//", after_colon)


def _example(name: str) -> str:
    return {
        "entity": "entity:baidu",
        "type": "type:llama_based",
        "stance": "stance:allegation",
        "depth": "depth:<=2",
        "lang": "lang:zh",
        "source": "source:36kr",
        "from": "from:2023-11-01",
        "to": "to:2023-12",
    }[name]


# Parser -----------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, source: str, tokens: list[_Token]):
        self.source = source
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node | None:
        if not self.tokens:
            return None
        node = self.or_expr()
        token = self.peek()
        if token is not None:
            if token.kind == ")":
                raise QueryError("unbalanced ')': no '(' opens it", token.position)
            raise QueryError(f"unexpected '{token.text}'", token.position)
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind == "op" and token.text == "OR":
            self.take()
            self._expect_operand(token)
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.unary()]
        while (token := self.peek()) is not None and not (
            token.kind == ")" or token.text == "OR" and token.kind == "op"
        ):
            if token.kind == "op" and token.text == "AND":
                self.take()
                self._expect_operand(token)
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self) -> Node:
        token = self.peek()
        if token is None:
            raise QueryError("the query ends where a term was expected", len(self.source))
        if (token.kind == "op" and token.text == "NOT") or token.kind == "-":
            self.take()
            self._expect_operand(token)
            return Not(self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "(":
            if (nxt := self.peek()) is not None and nxt.kind == ")":
                raise QueryError("empty parentheses", token.position)
            node = self.or_expr()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise QueryError("unbalanced '(': add the closing ')'", token.position)
            self.take()
            return node
        if token.kind == ")":
            raise QueryError("unbalanced ')': no '(' opens it", token.position)
        if token.kind == "op":
            raise QueryError(f"'{token.text}' needs a term before it", token.position)
        if token.kind == "phrase":
            if not token.text.strip():
                raise QueryError("empty quoted phrase", token.position)
            return Phrase(token.text.strip(), token.position)
        if token.kind == "filter":
            assert token.filter_name is not None
            return Filter(token.filter_name, _filter_value(token), token.position)
        text = token.text
        if text.endswith("*") and len(text) > 1:
            return Term(text[:-1], token.position, prefix=True)
        if not any(ch.isalnum() for ch in text):
            raise QueryError(f"'{text}' is not a word", token.position)
        return Term(text, token.position)

    def _expect_operand(self, operator: _Token) -> None:
        token = self.peek()
        if token is None or token.kind == ")" or (token.kind == "op" and token.text in ("AND", "OR")):
            raise QueryError(f"'{operator.text}' needs a term after it", operator.position)


# Filter values ----------------------------------------------------------------------------------


def _filter_value(token: _Token) -> object:
    name, raw, pos = token.filter_name, token.text, token.position
    if name == "type":
        value = raw.lower().replace("-", "_")
        try:
            return ClaimType(value)
        except ValueError:
            raise QueryError(
                f"unknown claim type '{raw}' (one of {', '.join(t.value for t in ClaimType)})", pos
            ) from None
    if name == "stance":
        try:
            return Stance(raw.lower())
        except ValueError:
            raise QueryError(
                f"unknown stance '{raw}' (one of {', '.join(s.value for s in Stance)})", pos
            ) from None
    if name == "lang":
        try:
            return Language(raw.lower())
        except ValueError:
            raise QueryError(f"unknown language '{raw}' (zh or en)", pos) from None
    if name == "depth":
        return _depth(raw, pos)
    if name in ("from", "to"):
        return _date_bound(raw, pos, end=name == "to")
    return raw  # entity, source: resolved by the backend


def _depth(raw: str, pos: int) -> DepthRange:
    if ".." in raw:
        low_text, _, high_text = raw.partition("..")
        low, high = _depth_int(low_text, pos), _depth_int(high_text, pos)
        if low > high:
            raise QueryError(f"depth range '{raw}' is empty", pos)
        return DepthRange(low, high)
    for comparator in COMPARATORS:
        if raw.startswith(comparator):
            number = _depth_int(raw[len(comparator) :], pos + len(comparator))
            return {
                "<=": DepthRange(1, number),
                ">=": DepthRange(number, MAX_DEPTH),
                "<": DepthRange(1, number - 1),
                ">": DepthRange(number + 1, MAX_DEPTH),
                "=": DepthRange(number, number),
            }[comparator]
    number = _depth_int(raw, pos)
    return DepthRange(number, number)


def _depth_int(text: str, pos: int) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_DEPTH:
        raise QueryError(f"depth must be a number from 1 to {MAX_DEPTH} (e.g. depth:<=2), got '{text}'", pos)
    return int(text)


def _date_bound(raw: str, pos: int, end: bool) -> datetime:
    """Start of the named period for `from:`; start of the following period for `to:` (exclusive)."""
    formats = (("%Y-%m-%d", "day"), ("%Y-%m", "month"), ("%Y", "year"))
    for fmt, unit in formats:
        try:
            start = datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        # Years outside this range are typos; they would also overflow `to:9999` and give dates
        # that Elasticsearch's strict formats refuse (year 999).
        if not FIRST_YEAR <= start.year <= LAST_YEAR:
            raise QueryError(f"'{raw}': the year must be from {FIRST_YEAR} to {LAST_YEAR}", pos)
        if not end:
            return start
        if unit == "day":
            return datetime.fromordinal(start.toordinal() + 1).replace(tzinfo=UTC)
        if unit == "month":
            return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        return start.replace(year=start.year + 1)
    raise QueryError(f"'{raw}' is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)", pos)


def describe_error(query: str, error: QueryError) -> str:
    """The message with the query and a caret under the problem, for terminals."""
    if error.position is None:
        return str(error)
    return f"{error}\n  {query}\n  {' ' * _display_width(query[: error.position])}^"


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
