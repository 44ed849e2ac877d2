"""Claim extraction: provenance claims (type, subject, object, stance, speaker) from sentences.

Rules over cue lexicons (nlp/data/lexicons/claims.yaml). A sentence is examined only when a
claim-type cue occurs in it (one pass of a combined pattern over the article selects them); in a
selected sentence the extractor

1. finds the type cues; a *weak* cue ("based on", 基于) counts only with a named model or vendor
   next to it, a *generic* one (套壳, "wrapper") becomes `api_wrapper` when that object is an API
   vendor's model and `llama_based` otherwise;
2. drops history and explainers ("inspired by PaLM", 基于Transformer) that carry no allegation or
   response cue;
3. picks the object (the model named at the cue), the subject (a model or organisation of the
   sentence that is not the object; else the speaker's organisation; else the subject carried
   over from an earlier sentence) and the speaker (`X表示`, "X said", "according to X");
   (the trained classifier, nlp/classifier.py, chooses the subject among `subject_options`
   instead, and asks the rules for the claim about it);
4. decides the stance: a negated cue or a denial cue from the accused party is a denial; an
   admission cue an admission; the party's own provenance statement a self-claim; a third party's
   statement an allegation; a sentence without any party an analysis.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path

import yaml

from nlp.knowledge_base import KnowledgeBase, name_key
from nlp.matching import Mention, ProductNameFinder, trie_regex
from nlp.script import fold
from shellwatch.domain import Claim, ClaimType, EntityType, Language, Stance

LEXICON_FILE = Path(__file__).resolve().parent / "data" / "lexicons" / "claims.yaml"
CJK = re.compile(r"[\u4e00-\u9fff]")
MODEL_WORDS = ("大模型", "大語言模型", "大语言模型")  # 云图大模型: a model's name, not a phrase
NAMELIKE = re.compile(r"[A-Za-z0-9]")  # "Orion-72B", not a word the name finder took ("洗白")
# Where one sentence turns from an allegation to a response ("…；字节跳动则表示…", "…, but Moonshot
# AI says…"): the two clauses are read as two sentences.
# Where a candidate sentence turns from one party's statement to another's; the lexicon's
# `turn_openings` add the words a turn starts with ("…, after developers spot …").
TURN = r"[；;](?=.{8})|(?<=.{8})[，,]\s*(?:但是?|but\b)(?=.{8})"
SPEAKER_TRIM = re.compile(
    r"(?:[\s，,：:“”\"'「」『』（）()]|但|而|对此|同时|此外|随后|然而|不过|并且|其中|今天|昨天|日前|近日|此前|and|but|however|meanwhile|then|also)+"
)
# Words between a speaker and its verb ("Parents had discovered", "星河科技随后回应"): no part of it.
SPEAKER_TAIL = re.compile(
    r"(?:\s+(?:had|has|have|also|later|then|now|again|initially|eventually|first|publicly|previously|"
    r"earlier|already|quickly|since|both)|随后|随即|则|也|已|再次|当天|近日|日前|此前|今天|昨天|稍后|早前|后来|最终|对此|亦)+$"
)
# A speaker's role after its organisation's name ("松果科技CTO", "CantoLM團隊"): not part of the name.
SPEAKER_ROLE = re.compile(
    r"(?:联合创始人|聯合創始人|创始人|創始人|首席执行官|首席執行官|发言人|發言人|负责人|負責人|工作人员|工作人員|"
    r"团队|團隊|官方|CEO|CTO|ceo|cto|'s\s.*|\s+(?:spokesperson|founder|co-founder|team|chief\b.*))$"
)
LEADING_ARTICLE = re.compile(r"^the\s+", re.IGNORECASE)  # "The Xuanji team" names Xuanji
# Words that make a speaker (folded) a party rather than a commentator ("星河科技", "Nebula AI").
PARTY_WORDS = re.compile(r"科技|公司|智能|集团|实验室|大模型|团队|(?<![a-z])(?:ai|labs?|inc)(?![a-z])")
NO_MATCH = re.compile(r"(?!x)x")
NOT_NAME_STARTS_ZH = frozenset("的了是被在把对给将也则又就只还都并而")
NAME_BREAKS = frozenset(" ，,。：:；;“”\"'「」『』（）()、!?！？《》\n—")
# A run of capitalised words in an English clause (a name the name finders may have missed); an
# apostrophe before it is an opening quote ("'Quillmind does not…"), not a word's ("don't").
CAPITALISED_RUN = re.compile(r"(?<![\w-])(?<!\w['’])[A-Z][\w+&.’'-]*(?:\s+[A-Z0-9][\w+&.’'-]*)*")
CLAUSE_BREAKS = frozenset('，,。：:；;“”"「」『』（）()!?！？\n—')


QUOTES_AND_SPACE = " '\"‘’“”「」『』,，"
# Before a speech verb whose speaker follows it: a quotation's closing quote and comma, or a comma.
QUOTED_BEFORE = re.compile(r"(?:,\s*['’\"”]|['’\"”]\s*,)\s*$")
INVERTED_BEFORE = re.compile(r"(?:,\s*['’\"”]|['’\"”]?\s*,)\s*$")


def _clause_start(sentence: str, end: int) -> int:
    start = end
    while start > 0 and sentence[start - 1] not in CLAUSE_BREAKS and end - start < 40:
        start -= 1
    return start


def _clause_end(sentence: str, start: int) -> int:
    end = start
    while end < len(sentence) and sentence[end] not in CLAUSE_BREAKS:
        end += 1
    return end


@dataclass(frozen=True, slots=True)
class Hit:
    type: ClaimType
    start: int
    end: int
    strength: str  # "strong", "generic" or "weak"


@dataclass
class FoundClaim:
    """A claim as found in one sentence, before merging per subject."""

    claim: Claim
    sentence: int
    carried_subject: bool = False
    party: str | None = None  # who speaks, seen from the subject: "self", "third", "commentator"
    negated: bool = False  # the cue is negated ("并非套壳", "did not use")


@dataclass(frozen=True, slots=True)
class SubjectOption:
    """A party a claim of a clause may be about; `origin` says how the clause names it: "named"
    (a name in the clause), "named-speaker" (a name inside the speaker's phrase), "speaker" (the
    speaker's own words: a party the name finders missed), "speaker-org" (the organisation of a
    known person speaking), "proposed" (a name the name finders missed, by its position) or
    "carried" (the subject of an earlier sentence; offsets -1)."""

    mention: Mention
    origin: str


def _stem(name: str) -> str:
    """The leading part of a name that its maker's name shares: two Chinese characters ("星河" of
    星河-34B) or the first Latin word of four letters or more ("nebula" of Nebula-7B)."""
    key = name_key(name)
    if len(key) >= 3 and CJK.match(key[0]) and CJK.match(key[1]):
        return key[:2]
    word = re.match(r"[a-z]{4,}", key)
    return word.group() if word and len(key) > len(word.group()) else ""


def _mentions_in(mentions: list[Mention], span: tuple[int, int]) -> list[Mention]:
    return [m for m in mentions if m.start >= span[0] and m.end <= span[1]]


def _same_name(a: Mention, b: Mention) -> bool:
    return a.entity_id == b.entity_id and (a.entity_id is not None or a.name == b.name)


@dataclass
class ClaimUnit:
    """A candidate sentence or clause, with what the rules read in it: the input of the trained
    claim classifier (nlp/classifier.py), which decides the claims of the unit."""

    sentence: str  # folded
    original: str
    index: int  # sentence (clause) number in the document
    mentions: list[Mention]  # offsets relative to the unit
    carried: Mention | None
    speaker: str | None
    speaker_span: tuple[int, int] | None
    name_span: tuple[int, int] | None
    cues: SentenceCues
    lang: Language
    rule_claims: list[FoundClaim]
    # Who owns which name, read from the whole document ("澜舟科技上周发布的孟子-70B",
    # "Quillbird's LexQuill"): name key → owner keys (`owner_key`).
    owners: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)
    # The names of the sentence before: whom a bare "a spokesperson" or "该公司" speaks for.
    previous_mentions: list[Mention] = field(default_factory=list, repr=False, compare=False)
    # The speaker named in full a clause or two before (their names, their words): whom "he said"
    # speaks for.
    previous_speaker: tuple[list[Mention], str] | None = field(default=None, repr=False, compare=False)
    # What the classifier derives from the clause (tokens, subject options), computed once for all
    # the (type, subject) candidates read in it.
    derived: dict[str, object] = field(default_factory=dict, repr=False, compare=False)


class CueSet:
    """Labelled cue patterns, searched fast: a scan for their literal anchors runs first, and only
    the patterns whose anchor occurs are tried (a cue without a literal part is always tried).

    Two anchor scans, chosen by the text: Chinese (any non-ASCII) text runs a trie of the anchors,
    which the regex engine skips through quickly as few characters start an anchor; in ASCII text
    nearly every letter starts one (the trie is tried at every position), so a word of the text
    is looked up instead: the anchors inside it are computed once per distinct word and kept.
    """

    def __init__(self, labelled: list[tuple[object, str]], *, source: str = "lexicon") -> None:
        self._patterns: list[tuple[object, re.Pattern[str]]] = []
        by_anchor: dict[str, set[int]] = {}
        self._always: list[int] = []
        for index, (label, pattern) in enumerate(labelled):
            try:
                # ASCII word boundaries: "rag" in "RAG套壳" is a word, although 套 is a letter to Unicode.
                self._patterns.append((label, re.compile(pattern, re.ASCII)))
            except re.error as exc:
                raise ValueError(f"{source}: bad pattern {pattern!r} ({label}): {exc}") from None
            anchors = literal_anchors(pattern)
            if anchors:
                for anchor in anchors:
                    by_anchor.setdefault(anchor, set()).add(index)
            else:
                self._always.append(index)
        # The trie finds the longest anchor at a place; shorter anchors inside it count too.
        self._by_word = {
            word: sorted({i for anchor, indexes in by_anchor.items() if anchor in word for i in indexes})
            for word in by_anchor
        }
        self._trie = re.compile(trie_regex(sorted(by_anchor))) if by_anchor else None
        # Offsets inside an anchor where a longer anchor may start and reach past it ("from" in
        # "trained from" → "from scratch"): only there is the trie tried again.
        self._overlaps = {
            word: offsets
            for word in by_anchor
            if (
                offsets := [
                    i
                    for i in range(1, len(word))
                    if any(o.startswith(word[i:]) and len(o) > len(word) - i for o in by_anchor)
                ]
            )
        }
        self._ascii = AsciiAnchors([a for a in by_anchor if a.isascii()])

    def _anchor_matches(self, text: str) -> list[tuple[int, str]]:
        """(start, anchor) of the trie's matches, and of anchors that start inside one and reach
        past it ("from scratch" in "trained from scratch", where the anchor "trained from" wins)."""
        if text.isascii():
            return self._ascii_anchor_matches(text)
        found = []
        trie = self._trie
        overlaps = self._overlaps
        for match in trie.finditer(text):
            start, end = match.span()
            word = match.group()
            found.append((start, word))
            for offset in overlaps.get(word, ()):
                inner = trie.match(text, start + offset)
                if inner is not None and inner.end() > end:
                    found.append((start + offset, inner.group()))
        return found

    def _ascii_anchor_matches(self, text: str) -> list[tuple[int, str]]:
        """What `_anchor_matches` finds, from the places of the anchors the words of `text` may
        hold: the longest anchor at the leftmost place, the scan going on after it."""
        longest: dict[int, int] = {}  # start → end of the longest anchor there
        for anchor in self._ascii.present(text):
            size = len(anchor)
            start = text.find(anchor)
            while start >= 0:
                if longest.get(start, -1) < start + size:
                    longest[start] = start + size
                start = text.find(anchor, start + 1)
        found = []
        resume = 0
        for start in sorted(longest):
            if start < resume:
                continue
            end = longest[start]
            word = text[start:end]
            found.append((start, word))
            for offset in self._overlaps.get(word, ()):
                inner_end = longest.get(start + offset, -1)
                if inner_end > end:
                    found.append((start + offset, text[start + offset : inner_end]))
            resume = end
        return found

    def anchor_positions(self, text: str) -> list[int]:
        """Where a cue may start or sit (a superset of the real matches)."""
        positions = [start for start, _ in self._anchor_matches(text)] if self._trie else []
        for index in self._always:
            positions.extend(m.start() for m in self._patterns[index][1].finditer(text))
        return sorted(positions)

    def _candidates(self, text: str) -> list[int]:
        """The patterns that may match in `text`: those with an anchor there."""
        indexes = set(self._always)
        if self._trie is None:
            return sorted(indexes)
        by_word = self._by_word
        if text.isascii():
            for anchor in self._ascii.present(text):
                indexes.update(by_word[anchor])
            return sorted(indexes)
        overlaps, trie = self._overlaps, self._trie
        for match in trie.finditer(text):
            word = match.group()
            indexes.update(by_word[word])
            if word in overlaps:
                start, end = match.span()
                for offset in overlaps[word]:
                    inner = trie.match(text, start + offset)
                    if inner is not None and inner.end() > end:
                        indexes.update(by_word[inner.group()])
        return sorted(indexes)

    def finditer(self, text: str) -> list[tuple[object, re.Match[str]]]:
        found = []
        for index in self._candidates(text):
            label, pattern = self._patterns[index]
            found.extend([(label, match) for match in pattern.finditer(text)])
        return found

    def search(self, text: str) -> re.Match[str] | None:
        for index in self._candidates(text):
            match = self._patterns[index][1].search(text)
            if match:
                return match
        return None

    def labels(self, text: str) -> dict[object, re.Match[str]]:
        """The first match of each label found in `text`."""
        found: dict[object, re.Match[str]] = {}
        for label, match in self.finditer(text):
            found.setdefault(label, match)
        return found


ASCII_WORD_RUN = re.compile(r"\w+", re.ASCII)


class AsciiAnchors:
    """The anchors an ASCII text holds, found through its words (runs of non-space characters).
    An anchor of word characters only ("said", "renam") occurs exactly where it is inside a
    word; any other is keyed by its longest run of word characters (" generated" by
    `generated`, "n't" by `n`), which lies inside a word of any text that holds it, and is then
    looked for in the text. What a word holds is computed on its first sight and kept (a
    bounded cache: the words of news are a small vocabulary)."""

    MAX_WORDS = 200_000

    def __init__(self, anchors: list[str]) -> None:
        self._words: list[str] = []  # anchors of word characters only
        self._keyed: list[tuple[str, str]] = []  # (longest word run, anchor)
        self._loose: list[str] = []  # no word character at all ("--"): always looked for
        for anchor in anchors:
            runs = ASCII_WORD_RUN.findall(anchor)
            if runs == [anchor]:
                self._words.append(anchor)
            elif runs:
                self._keyed.append((max(runs, key=len), anchor))
            else:
                self._loose.append(anchor)
        # A word → (anchors it holds, anchors it may hold); () for the many words without either.
        self._by_word: dict[str, tuple] = {}

    def present(self, text: str) -> set[str]:
        """The anchors that occur in `text` (an ASCII text)."""
        found: set[str] = set()
        possible = set(self._loose)
        get = self._by_word.get
        for word in set(text.split()):
            entry = get(word)
            if entry is None:
                entry = self._learn(word)
            if entry:
                found.update(entry[0])
                possible.update(entry[1])
        found.update(anchor for anchor in possible if anchor in text)
        return found

    def _learn(self, word: str) -> tuple:
        if len(self._by_word) >= self.MAX_WORDS:
            self._by_word.clear()
        held = tuple(a for a in self._words if a in word)
        keyed = tuple(a for key, a in self._keyed if key in word)
        entry = self._by_word[word] = (held, keyed) if held or keyed else ()
        return entry


@dataclass
class SentenceCues:
    """Every cue of one sentence, found in one pass."""

    hits: list[Hit]
    stances: dict[Stance, re.Match[str]]
    negations: list[tuple[int, int]]
    history: bool
    third_party: bool
    analysis: bool
    cleared: bool  # "no evidence that …", "没有证据": a third party clears the subject
    silent: bool = False  # no one responded ("未予置评") or a how-to-tell sentence: no claim


@dataclass(frozen=True)
class ShownSpeaker:
    """What a claim shows as its speaker (lexicon `shown_speaker`)."""

    not_first_en: frozenset[str]
    not_shown: frozenset[str]
    tail_zh: re.Pattern[str]
    adverbs_en: frozenset[str] = frozenset()

    @classmethod
    def from_data(cls, data: dict) -> ShownSpeaker:
        return cls(
            frozenset(data["not_first_en"]),
            frozenset(data["not_shown"]),
            re.compile(data["tail_zh"]),
            frozenset(data.get("adverbs_en") or ()),
        )

    def _without_adverbs(self, speaker: str, evidence: str, at: int) -> str:
        """ "The company later" → "The company"; an adverb alone ("…, Dana Whitfield, initially
        denied") stands for the phrase before it in the sentence, when that is short."""
        words = speaker.split()
        while words and (words[-1].lower() in self.adverbs_en):
            words.pop()
        if words or at < 0:
            return " ".join(words)
        before = evidence[:at].strip().rstrip(",").strip()
        return before if 0 < len(before.split()) <= 8 and before[:1].isupper() else ""

    def of(self, claim: Claim) -> Claim:
        """The claim with its speaker as a reader should see it, or none. The rules read the whole
        phrase before a speech verb, which can be the rest of a clause or start inside a word
        ("synthetic" → "tic data produced by…"); their reading stays the classifier's input."""
        speaker = claim.speaker
        if not speaker:
            return claim
        shown: str | None = self.tail_zh.sub("", speaker).strip()
        at = claim.evidence.find(speaker)
        shown = self._without_adverbs(shown, claim.evidence, at)
        words = shown.split(maxsplit=1)
        inside_word = (
            at > 0 and speaker[0].isascii() and speaker[0].isalnum() and claim.evidence[at - 1].isalnum()
        )
        if (
            not words
            or inside_word
            or words[0].lower() in self.not_first_en
            or shown.lower() in self.not_shown
        ):
            shown = None
        return claim if shown == speaker else claim.model_copy(update={"speaker": shown})


@dataclass
class ClaimLexicon:
    priority: list[ClaimType]
    type_cues: CueSet  # labels: (ClaimType, strength)
    decisive_cues: CueSet  # strong and generic type cues: a sentence with one is worth a look
    weak_cues: CueSet  # weak type cues: worth a look only next to a named model
    strong_cues: CueSet  # strong type cues: a claim even alone (沿用…架构, "thin wrapper")
    sentence_cues: CueSet  # labels: ("type", ClaimType, strength), ("stance", Stance), ("negation",) …
    stances: CueSet  # labels: Stance
    negation: CueSet
    negation_window: dict[Language, int]
    history: CueSet
    speaker_verbs: re.Pattern[str]
    speaker_after: re.Pattern[str]
    speaker_location: re.Pattern[str]
    shown_speaker: ShownSpeaker
    anaphora: re.Pattern[str]
    self_speakers: CueSet
    own_staff: CueSet  # the party's own people, named by a word that alone is a third party's
    third_parties: CueSet
    commentators: CueSet  # speakers who comment rather than accuse: analysts, "有分析"
    analysis: CueSet
    api_sources: frozenset[str]
    open_sources: frozenset[str]
    venues: frozenset[str]
    object_window: dict[Language, tuple[int, int]] = field(default_factory=dict)
    proposed_name_zh: re.Pattern[str] = NO_MATCH  # a name opening a clause, up to its verb or particle
    proposal_openings_zh: re.Pattern[str] = NO_MATCH  # where a proposed name may start (after 质疑 …)
    not_names_en: frozenset[str] = frozenset()  # capitalised words that start no name
    not_name_starts_zh: re.Pattern[str] = NO_MATCH  # openings of phrases that are no name
    owner_before: re.Pattern[str] = NO_MATCH  # between an owner and what it owns ("发布的", "'s")
    owner_after: re.Pattern[str] = NO_MATCH  # between a product and its owner (", built by")
    turns: re.Pattern[str] = re.compile(TURN)  # where a sentence turns to another party
    topic_openings: re.Pattern[str] = NO_MATCH  # "对于外界质疑，…": the verb after it is a noun
    inverting_verbs: re.Pattern[str] = NO_MATCH  # "'…,' said Lin": verbs before their speaker
    inverted_speaker_end: re.Pattern[str] = NO_MATCH  # where such a speaker's phrase ends
    person_pronouns: re.Pattern[str] = NO_MATCH  # he, she, 他, 她: a speaker named before


def _proposals(data: dict) -> dict:
    proposals = data.get("subject_proposals") or {}
    if not proposals:
        return {}
    breaks = "".join(sorted(NAME_BREAKS))
    return {
        "proposed_name_zh": re.compile(
            rf"[^{re.escape(breaks)}]{{2,12}}?(?={trie_regex(proposals['zh_name_ends'])})"
        ),
        # One fixed-width lookbehind per word: Python's lookbehinds take no alternatives of
        # different lengths.
        "proposal_openings_zh": re.compile(
            "|".join(
                [
                    "^",
                    rf"(?<=[{re.escape(breaks)}])",
                    *(rf"(?<={re.escape(w)})" for w in proposals["zh_after"]),
                ]
            )
        ),
        "not_names_en": frozenset(proposals["en_not_names"]),
        "not_name_starts_zh": (
            re.compile(trie_regex(proposals["zh_not_name_starts"]))
            if proposals.get("zh_not_name_starts")
            else NO_MATCH
        ),
    }


def _union(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else re.compile(r"(?!x)x")


def _cues(patterns: list[str], label: object, source: str) -> CueSet:
    return CueSet([(label, p) for p in patterns], source=source)


def _speaker_shapes(data: dict) -> dict:
    """Turns to another party, topic phrases, and speakers after their verb."""
    turn_openings = data.get("turn_openings") or []
    inversion = data.get("speaker_inversion") or {}
    shapes = {
        "person_pronouns": _union(data.get("person_pronouns") or []),
        "turns": re.compile(
            TURN
            + "".join(rf"|(?<=.{{8}})\s(?={p})" for p in turn_openings)
            + "".join(rf"|(?<=.{{8}})[，,](?={p})" for p in data.get("turn_openings_zh") or [])
        ),
        "topic_openings": re.compile(rf"\s*(?:{'|'.join(data.get('topic_openings') or [])})")
        if data.get("topic_openings")
        else NO_MATCH,
    }
    if inversion:
        shapes["inverting_verbs"] = re.compile("|".join(inversion["verbs_en"]))
        shapes["inverted_speaker_end"] = re.compile(inversion["speaker_end_en"])
    return shapes


def _ownership(data: dict) -> dict:
    ownership = data.get("ownership") or {}
    return {
        key: re.compile(ownership[key], re.IGNORECASE)
        for key in ("owner_before", "owner_after")
        if key in ownership
    }


@lru_cache(maxsize=4)
def load_claim_lexicon(path: Path = LEXICON_FILE) -> ClaimLexicon:
    """Compile the cue lexicon file; a bad pattern fails here with its text in the message."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    try:
        return _claim_lexicon(data, str(path))
    except re.error as exc:  # a pattern outside the cue sets (speakers, turns, ownership …)
        raise ValueError(f"{path}: bad pattern {exc.pattern!r}: {exc}") from None


def _claim_lexicon(data: dict, source: str) -> ClaimLexicon:
    typed: list[tuple[object, str]] = []
    for type_name, groups in data["claim_types"].items():
        for strength in ("strong", "generic", "weak"):
            typed.extend(((ClaimType(type_name), strength), p) for p in groups.get(strength) or [])
    negation = data["negation"]
    objects = data["objects"]
    # One pass per sentence finds all of its cues: one combined set, labelled by kind.
    combined: list[tuple[object, str]] = [(("type", *label), p) for label, p in typed]
    combined += [(("stance", Stance(name)), p) for name, ps in data["stances"].items() for p in ps]
    for kind, patterns in (
        ("negation", negation["patterns"]),
        ("history", data["history"]),
        ("third", data["third_parties"]),
        ("analysis", data["analysis"]),
        ("cleared", data["cleared"]),
        ("silent", (data.get("no_comment") or []) + (data.get("generic_questions") or [])),
    ):
        combined += [((kind,), p) for p in patterns]
    return ClaimLexicon(
        priority=[ClaimType(t) for t in data["priority"]],
        type_cues=CueSet(typed, source=source),
        decisive_cues=CueSet([t for t in typed if t[0][1] != "weak"], source=source),
        strong_cues=CueSet([t for t in typed if t[0][1] == "strong"], source=source),
        weak_cues=CueSet([t for t in typed if t[0][1] == "weak"], source=source),
        sentence_cues=CueSet(combined, source=source),
        stances=CueSet(
            [(Stance(name), p) for name, ps in data["stances"].items() for p in ps], source=source
        ),
        negation=_cues(negation["patterns"], "negation", source),
        negation_window={Language.ZH: negation["window_zh"], Language.EN: negation["window_en"]},
        history=_cues(data["history"], "history", source),
        # "X被指…" and "X遭…质疑": X is accused, no speaker; "X自称Y" (a model calling itself Y) is
        # what X outputs, not X stating a claim.
        speaker_verbs=re.compile(
            "|".join(
                [f"(?<!被)(?<!遭)(?<!自)(?:{trie_regex(data['speaker_verbs_zh'])})"]
                + [rf"\b(?:{trie_regex(data['speaker_verbs_en'])})\b"]
            ),
            re.ASCII,
        ),
        speaker_after=re.compile("|".join(data["speaker_after"])),
        speaker_location=re.compile(data["speaker_location_zh"]),
        shown_speaker=ShownSpeaker.from_data(data["shown_speaker"]),
        anaphora=_union(data["anaphora"]),
        self_speakers=_cues(data["self_speakers"], "self", source),
        own_staff=_cues(data.get("own_staff") or [], "self", source),
        third_parties=_cues(data["third_parties"], "third", source),
        commentators=_cues(data.get("commentators") or [], "commentator", source),
        analysis=_cues(data["analysis"], "analysis", source),
        api_sources=frozenset(objects["api_sources"]),
        open_sources=frozenset(objects["open_sources"]),
        venues=frozenset(objects.get("venues", [])),
        object_window={
            Language.ZH: (objects["window_zh_before"], objects["window_zh_after"]),
            Language.EN: (objects["window_en_before"], objects["window_en_after"]),
        },
        **_proposals(data),
        **_ownership(data),
        **_speaker_shapes(data),
    )


def literal_anchors(pattern: str) -> set[str] | None:
    """Literal strings one of which every match of `pattern` contains (None when there are none)."""
    try:
        from re import _constants, _parser
    except ImportError:  # pragma: no cover - a Python without the private parser: no anchors
        return None
    try:
        parsed = _parser.parse(pattern)
    except re.error:
        return None
    return _anchors(list(parsed), _constants)


def _anchors(items: list, c) -> set[str] | None:  # noqa: ANN001 - re's private parse tree
    candidates: list[set[str]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            candidates.append({"".join(run)})
        run.clear()

    for op, av in items:
        if op is c.LITERAL:
            run.append(chr(av))
            continue
        flush()
        found = None
        if op is c.SUBPATTERN:
            found = _anchors(list(av[-1]), c)
        elif op is c.BRANCH:
            alternatives = [_anchors(list(alt), c) for alt in av[1]]
            if all(alternatives):
                found = set().union(*alternatives)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1:
            found = _anchors(list(av[2]), c)
        if found:
            candidates.append(found)
    flush()
    if not candidates:
        return None
    return max(candidates, key=lambda words: (min(len(w) for w in words), -len(words)))


class ClaimExtractor:
    """Claims of one document from its sentences and entity mentions."""

    def __init__(self, kb: KnowledgeBase, lexicon: ClaimLexicon | None = None) -> None:
        self.kb = kb
        self.lex = lexicon or load_claim_lexicon()
        self._roles: dict[tuple[str | None, EntityType], str] = {}
        # Training keeps proposed names that cannot be names ("它在", "Partly"): the subject
        # classifier learns from them what is no subject; analysis leaves them out.
        self.propose_unlikely_names = False

    def candidate_sentences(
        self, folded: str, sentences: list[tuple[int, int]], mentions: list[Mention] | None = None
    ) -> list[int]:
        """Indexes of the sentences worth the claim rules: a strong or generic cue (套壳, "distilled"),
        or a weak one ("based on", 基于) in a sentence that names a known model or company."""
        starts = [s for s, _ in sentences]

        def sentence_of(position: int) -> int | None:
            index = bisect.bisect_right(starts, position) - 1
            return index if index >= 0 and position < sentences[index][1] else None

        chosen = {sentence_of(p) for p in self.lex.decisive_cues.anchor_positions(folded)}
        named = {sentence_of(m.start) for m in mentions if m.linked} if mentions is not None else None
        for position in self.lex.weak_cues.anchor_positions(folded):
            index = sentence_of(position)
            if named is None or index in named:
                chosen.add(index)
        chosen.discard(None)
        return sorted(chosen)  # type: ignore[arg-type]

    def strongly_cued(self, folded: str, span: tuple[int, int], mentions: list[Mention]) -> bool:
        """Whether the sentence `span` has a strong claim cue and names a known model or company:
        a claim, whatever a classifier makes of the sentence as a lede."""
        start, end = span
        return any(start <= m.start < end for m in mentions if m.linked) and (
            self.lex.strong_cues.search(folded[start:end]) is not None
        )

    def extract(
        self,
        text: str,
        folded: str,
        sentences: list[tuple[int, int]],
        mentions: list[Mention],
        language: Language,
        *,
        products: ProductNameFinder | None = None,
        units: list[ClaimUnit] | None = None,
    ) -> list[FoundClaim]:
        """The claims of a document by the rules; with `units`, also every candidate clause the
        rules examined (appended there, for the classifier)."""
        found: list[FoundClaim] = []
        mention_starts = [m.start for m in mentions]
        candidates = set(self.candidate_sentences(folded, sentences, mentions))
        # Product names (WriteGenie, 「晴語」): one scan of the text, used in candidate sentences.
        product_mentions = products.find(text, mentions) if products is not None and candidates else []
        product_starts = [m.start for m in product_mentions]
        owners = (
            self._owners(text, sorted([*mentions, *product_mentions], key=lambda m: m.start))
            if candidates
            else {}
        )
        if candidates:
            sentences, candidates = self._clauses(folded, sentences, candidates)
        last_subject: Mention | None = None
        last_subject_sentence = -10
        last_allegation: FoundClaim | None = None
        in_sentence: list[Mention] = []
        for index, (start, end) in enumerate(sentences):
            lo = bisect.bisect_left(mention_starts, start)
            hi = bisect.bisect_left(mention_starts, end)
            previous, in_sentence = in_sentence, mentions[lo:hi]
            # The cues of a clause read once: a response check and the clause's own claims share them.
            cues = None
            response = None
            if last_allegation is not None and index - last_allegation.sentence <= 3:
                cues = self._cues(folded[start:end])
                response = self._response(text, folded, start, end, in_sentence, last_allegation, index, cues)
                if response is not None:
                    found.append(response)
            if index in candidates or (response is not None and units is not None):
                lo = bisect.bisect_left(product_starts, start)
                hi = bisect.bisect_left(product_starts, end)
                if hi > lo:
                    in_sentence = self._with_products(folded, in_sentence, product_mentions[lo:hi], end)
                carried = last_subject if index - last_subject_sentence <= 3 else None
                claims, unit = self._sentence_claims(
                    text,
                    folded,
                    start,
                    end,
                    in_sentence,
                    carried,
                    language,
                    force=response is not None,
                    cues=cues,
                    owners=owners,
                    previous=previous,
                    # Read only for a "he said": the speaker of the clause or two before.
                    earlier=partial(
                        self._earlier_speaker,
                        text,
                        folded,
                        sentences[max(0, index - 2) : index],
                        mentions,
                        mention_starts,
                    ),
                )
                if unit is not None and units is not None:
                    unit.index = index
                    # A response to the allegation before is one more reading of this clause.
                    if response is not None:
                        unit.rule_claims.append(response)
                    units.append(unit)
                for claim in claims:
                    claim.sentence = index
                    if (
                        claim.claim.stance is Stance.ALLEGATION
                        and claim.claim.type is not ClaimType.SELF_DEVELOPED
                    ):
                        last_allegation = claim
                found.extend(claims)
                subjects = [c for c in claims if not c.carried_subject]
                if subjects:
                    first = subjects[0].claim
                    subject_mentions = [
                        m
                        for m in in_sentence
                        if m.entity_id == first.subject and m.name == first.subject_name
                    ]
                    if subject_mentions:
                        last_subject, last_subject_sentence = subject_mentions[0], index
                        continue
            topical = [m for m in in_sentence if m.type is not EntityType.PERSON]
            if topical:
                # "零一万物发布了Yi-34B。…该模型…": later sentences talk about the model, and about
                # a source (Llama, GPT-4) only when nothing else is named.
                ranked = sorted(
                    topical, key=lambda m: (self._is_api_source(m), m.type is not EntityType.MODEL)
                )
                last_subject, last_subject_sentence = ranked[0], index
        return found

    def _clauses(
        self, folded: str, sentences: list[tuple[int, int]], candidates: set[int]
    ) -> tuple[list[tuple[int, int]], set[int]]:
        """Candidate sentences split where they turn from one party's statement to another's."""
        split: list[tuple[int, int]] = []
        chosen: set[int] = set()
        for index, (start, end) in enumerate(sentences):
            parts = [start]
            if index in candidates:
                for turn in self.lex.turns.finditer(folded, start, end):
                    # "X承认…，但表示…": the same speaker goes on, one sentence.
                    verb = self.lex.speaker_verbs.match(folded, turn.end())
                    # "谈到小暑日记的实现，其开发者承认…": a topic phrase is no party's statement.
                    if verb is None and not self.lex.topic_openings.match(folded, parts[-1]):
                        parts.append(turn.end())
            parts.append(end)
            for a, b in itertools.pairwise(parts):
                if index in candidates:
                    chosen.add(len(split))
                split.append((a, b))
        return split, chosen

    def _response(
        self,
        text: str,
        folded: str,
        start: int,
        end: int,
        mentions: list[Mention],
        allegation: FoundClaim,
        index: int,
        cues: SentenceCues,
    ) -> FoundClaim | None:
        """A denial or admission that answers the allegation of a sentence just before without
        naming its mechanism again ("此前有用户质疑X是微调的。对此，X官方否认称…"); `cues`: those of
        the sentence."""
        sentence = folded[start:end]
        stances = [s for s in (Stance.DENIAL, Stance.ADMISSION) if s in cues.stances]
        if not stances:
            return None
        stance = min(stances, key=lambda s: cues.stances[s].start())
        # The same mechanism named again is handled as a claim of this sentence.
        if any(hit.type is allegation.claim.type for hit in cues.hits if hit.strength != "weak"):
            return None
        local = [
            Mention(m.start - start, m.end - start, m.surface, m.entity_id, m.type, m.name) for m in mentions
        ]
        speaker, _, name_span = self._speaker(sentence, text[start:end], local)
        if name_span is not None:
            words = sentence[name_span[0] : name_span[1]]
            if self.lex.third_parties.search(words) and not self.lex.own_staff.search(words):
                return None
        claim = allegation.claim.model_copy(
            update={
                "stance": stance,
                "speaker": speaker,
                "evidence": text[start:end].strip(),
                "confidence": 0.6,
            }
        )
        return FoundClaim(claim=claim, sentence=index, carried_subject=True)

    def _earlier_speaker(
        self,
        text: str,
        folded: str,
        spans: list[tuple[int, int]],
        mentions: list[Mention],
        mention_starts: list[int],
    ) -> tuple[list[Mention], str] | None:
        """The speaker named in full in the nearest of the clauses `spans` (their names and words):
        whom a "he said" or "她表示" after them speaks for."""
        for start, end in reversed(spans):
            lo = bisect.bisect_left(mention_starts, start)
            hi = bisect.bisect_left(mention_starts, end)
            local = [
                Mention(m.start - start, m.end - start, m.surface, m.entity_id, m.type, m.name)
                for m in mentions[lo:hi]
            ]
            sentence = folded[start:end]
            _, _, name_span = self._speaker(sentence, text[start:end], local)
            if name_span is not None:
                words = sentence[name_span[0] : name_span[1]]
                if not self.lex.person_pronouns.fullmatch(words.strip()):
                    return _mentions_in(local, name_span), words
        return None

    def _with_products(
        self, folded: str, mentions: list[Mention], products: list[Mention], end: int
    ) -> list[Mention]:
        """The sentence's mentions plus the product names in it that are no quoted cue word
        (“国产自研”, “套壳”)."""
        extra = [
            m for m in products if m.end <= end and not self.lex.type_cues.search(folded[m.start : m.end])
        ]
        return sorted([*mentions, *extra], key=lambda m: m.start) if extra else mentions

    # -- one sentence ---------------------------------------------------------------------------

    def _sentence_claims(
        self,
        text: str,
        folded: str,
        start: int,
        end: int,
        mentions: list[Mention],
        carried: Mention | None,
        language: Language,
        *,
        force: bool = False,
        cues: SentenceCues | None = None,
        owners: dict[str, frozenset[str]] | None = None,
        previous: list[Mention] | None = None,
        earlier: Callable[[], tuple[list[Mention], str] | None] | None = None,
    ) -> tuple[list[FoundClaim], ClaimUnit | None]:
        sentence = folded[start:end]
        lang = Language.ZH if CJK.search(sentence) else Language.EN
        if cues is None:
            cues = self._cues(sentence)
        hits = cues.hits
        # A clause without a cue is a unit for the classifier when it names a party (the response
        # clause of "X被指套壳Llama；X则表示…").
        if not hits and not force and not any(m.type is not EntityType.PERSON for m in mentions):
            return [], None
        local = [
            Mention(m.start - start, m.end - start, m.surface, m.entity_id, m.type, m.name) for m in mentions
        ]
        speaker, speaker_span, name_span = self._speaker(sentence, text[start:end], local)
        unit = ClaimUnit(
            sentence=sentence,
            original=text[start:end],
            index=-1,
            mentions=local,
            carried=carried,
            speaker=speaker,
            speaker_span=speaker_span,
            name_span=name_span,
            cues=cues,
            lang=lang,
            rule_claims=[],
            owners=owners or {},
            previous_mentions=previous or [],
            previous_speaker=earlier()
            if earlier is not None
            and name_span is not None
            and self.lex.person_pronouns.fullmatch(sentence[name_span[0] : name_span[1]].strip())
            else None,
        )
        unit.rule_claims = self._rule_claims(unit) if hits else []
        return list(unit.rule_claims), unit

    def unit_claim(
        self, unit: ClaimUnit, claim_type: ClaimType, subject: SubjectOption | None = None
    ) -> FoundClaim | None:
        """The claim of `claim_type` the unit makes about its subject, by the rules' reading of
        object, speaker and stance: the rules' own claim when they found that type, else one built
        at the unit's cue of that type (or its first cue). With `subject` (one of
        `subject_options`), the claim is about that party instead of the rules' choice."""
        if subject is None:
            for found in unit.rule_claims:
                if found.claim.type is claim_type:
                    return found
        hit, target = self.type_target(unit, claim_type)
        if subject is not None and target is not None and _same_name(target, subject.mention):
            # The party chosen as subject is no source of its own: the next source at the cue is.
            others = [m for m in unit.mentions if not _same_name(m, subject.mention)]
            target = self._object_for(hit, unit.sentence, others, unit.lang)
        if target is None and claim_type is not ClaimType.SELF_DEVELOPED:
            # No source at the cue ("'Strip away the new name and it is Yi-34B,' … said of Lyra-34B"):
            # the source named nearest to it in the clause.
            target = self._nearest_source(hit, unit.mentions, subject.mention if subject else None)
        chosen = (subject.mention, subject.origin == "carried") if subject is not None else None
        built = self._build_claim(claim_type, hit, target, unit, chosen)
        if not built:
            return None
        built[0].sentence = unit.index
        return built[0]

    def type_target(self, unit: ClaimUnit, claim_type: ClaimType) -> tuple[Hit, Mention | None]:
        """The unit's cue of `claim_type` (`type_hit`) and the object the rules read at it (none
        for self_developed): once per (unit, type), for the rules' claim and every candidate."""
        cache: dict[ClaimType, tuple[Hit, Mention | None]] | None = unit.derived.get("type-target")  # type: ignore[assignment]
        if cache is None:
            cache = unit.derived["type-target"] = {}
        known = cache.get(claim_type)
        if known is None:
            hit = self.type_hit(unit, claim_type)
            target = (
                None
                if claim_type is ClaimType.SELF_DEVELOPED
                else self._object_for(hit, unit.sentence, unit.mentions, unit.lang)
            )
            known = cache[claim_type] = (hit, target)
        return known

    def type_hit(self, unit: ClaimUnit, claim_type: ClaimType) -> Hit:
        """Where the clause says `claim_type`: its cue of that type, else its first cue, else the
        whole clause (the classifier reads the type from its wording)."""
        hits = unit.cues.hits
        same = [h for h in hits if h.type is claim_type]
        first = same[0] if same else hits[0] if hits else None
        if first is None:
            return Hit(claim_type, 0, len(unit.sentence), "weak")
        return Hit(claim_type, first.start, first.end, first.strength)

    def subject_options(self, unit: ClaimUnit) -> list[SubjectOption]:
        """Every party a claim of the clause may be about, for the trained subject choice
        (nlp/classifier.py): each model or organisation named in it (known or not), the
        organisation of a known person speaking, the speaker's own words when they name a party
        the name finders missed ("松果科技CTO"), and the subject carried from an earlier sentence.
        One option per name, at its first mention."""
        known = unit.derived.get("subject_options")
        if known is not None:
            return known  # type: ignore[return-value]
        options: list[SubjectOption] = []
        seen: set[tuple[str | None, str]] = set()

        def add(mention: Mention, origin: str) -> None:
            key = (mention.entity_id, mention.name if mention.entity_id is None else "")
            if key not in seen:
                seen.add(key)
                options.append(SubjectOption(mention, origin))

        name_span = unit.name_span
        parties = [m for m in unit.mentions if m.type is not EntityType.PERSON]
        # A venue (GitHub, Hugging Face) is where something was said, not what it is about.
        parties = [m for m in parties if not self._in(m, self.lex.venues)] or parties
        # An epithet in quotes right before a known name ("“最强开源模型”Reflection 70B") is that name.
        linked_starts = {m.start for m in parties if m.entity_id is not None}
        for mention in parties:
            if mention.entity_id is None and (
                mention.end in linked_starts or mention.end + 1 in linked_starts
            ):
                continue
            spoken = name_span is not None and name_span[0] <= mention.start < name_span[1]
            add(mention, "named-speaker" if spoken else "named")
        if name_span is not None:
            inside = [m for m in unit.mentions if name_span[0] <= m.start < name_span[1]]
            for person in inside:
                if person.type is EntityType.PERSON and person.entity_id is not None:
                    organisation = self.kb.developer_of(person.entity_id)
                    if organisation is not None:
                        add(
                            Mention(
                                person.start,
                                person.end,
                                person.surface,
                                organisation.id,
                                organisation.type,
                                organisation.name,
                            ),
                            "speaker-org",
                        )
            # The speaker's own name, without its role ("松果科技CTO" → 松果科技); a role alone
            # ("联合创始人") names no one.
            name = LEADING_ARTICLE.sub("", SPEAKER_ROLE.sub("", unit.speaker or "").strip())
            # "速記鴨的開發者": a party named before 的, whatever its name looks like.
            owned = unit.lang is Language.ZH and "的" in name[2:]
            if owned:
                name = name[: name.index("的", 2)]
            if not inside and len(name) >= 2 and self._names_a_party(name, unit.lang, owned=owned):
                add(Mention(name_span[0], name_span[1], unit.speaker, None, EntityType.ORG, name), "speaker")
        for mention in self._proposed_names(unit):
            add(mention, "proposed")
        if unit.carried is not None:
            carried = unit.carried
            add(
                Mention(-1, -1, carried.surface, carried.entity_id, carried.type, carried.name),
                "carried",
            )
        unit.derived["subject_options"] = options
        return options

    def _proposed_names(self, unit: ClaimUnit) -> list[Mention]:
        """Names the name finders missed, by position (see `subject_proposals` in the lexicon):
        spans that overlap no found name, are no cue, no commentator, no pronoun."""
        taken = [(m.start, m.end) for m in unit.mentions]
        if unit.name_span is not None:
            taken.append(unit.name_span)
        spans: list[tuple[int, int]] = []
        if unit.lang is Language.ZH:
            sentence = unit.sentence
            for opening in self.lex.proposal_openings_zh.finditer(sentence):
                start = opening.start()
                trimmed = SPEAKER_TRIM.match(sentence, start)
                if trimmed:
                    start = trimmed.end()
                # A name does not start with a particle ("的衡川法律大模型" → 衡川法律大模型).
                while start < len(sentence) and sentence[start] in NOT_NAME_STARTS_ZH:
                    start += 1
                name = self.lex.proposed_name_zh.match(sentence, start)
                if name and (
                    self.propose_unlikely_names or not self.lex.not_name_starts_zh.match(sentence, start)
                ):
                    spans.append(name.span())
        else:
            spans = self._capitalised_names(unit.original)
        found: list[Mention] = []
        if not spans:
            return found
        # Cues and the words for third parties and commentators, found once in the clause.
        sentence = unit.sentence
        excluded = [(hit.start, hit.end) for hit in unit.cues.hits]
        excluded += [m.span() for _, m in self.lex.third_parties.finditer(sentence)]
        excluded += [m.span() for _, m in self.lex.commentators.finditer(sentence)]
        for start, end in dict.fromkeys(spans):
            if any(s < end and start < e for s, e in taken) or any(
                s < end and start < e for s, e in excluded
            ):
                continue
            words = sentence[start:end]
            if self.lex.speaker_verbs.search(words) or self.lex.anaphora.fullmatch(words) or words.isdigit():
                continue
            surface = unit.original[start:end]
            found.append(Mention(start, end, surface, None, EntityType.MODEL, surface))
            taken.append((start, end))
        return found

    def _capitalised_names(self, original: str) -> list[tuple[int, int]]:
        """Runs of capitalised words without their leading common words ("Could", "The") and a
        trailing possessive ("Kingfisher-MoE's" → Kingfisher-MoE), at most four words."""
        spans = []
        for run in CAPITALISED_RUN.finditer(original):
            words = [
                (run.start() + m.start(), run.start() + m.end()) for m in re.finditer(r"\S+", run.group())
            ]
            # "Brave's Leo": the owner and the name are two names.
            owner = next(
                (i for i, (a, b) in enumerate(words[:-1]) if original[a:b].endswith(("'s", "’s"))), None
            )
            if owner is not None:
                words = words[owner + 1 :]
            while words and self._not_name_word(original, *words[0]):
                words = words[1:]
            if not words or len(words) > 4:
                continue
            start, end = words[0][0], words[-1][1]
            text = original[start:end]
            for suffix in ("'s", "’s", "'", "’", "."):
                if text.endswith(suffix):
                    end -= len(suffix)
                    text = text[: -len(suffix)]
            if end - start >= 2:
                spans.append((start, end))
        return spans

    def _not_name_word(self, text: str, start: int, end: int) -> bool:
        """A common word (`en_not_names`) or a sentence adverb before its comma ("Partly,")."""
        word = text[start:end].rstrip(",")
        if word.rstrip("'’s.") in self.lex.not_names_en:
            return True
        return not self.propose_unlikely_names and word.endswith("ly") and text[start : end + 1].endswith(",")

    def _names_a_party(self, name: str, lang: Language, *, owned: bool = False) -> bool:
        """The speaker's words name a company or product, not "网友", "researchers", "该公司" or
        "Some" (English: capitalised words, the first no common word); `owned`: the owner in
        "X的开发者", a party whatever its name looks like."""
        words = fold(name)
        if self.lex.anaphora.fullmatch(words.strip()) or self.lex.third_parties.search(words):
            return False
        if self.lex.commentators.search(words):
            return False
        if owned:
            return True
        if lang is Language.EN:
            tokens = name.split()
            return bool(tokens) and tokens[0][:1].isupper() and tokens[0] not in self.lex.not_names_en
        return bool(NAMELIKE.search(words) or PARTY_WORDS.search(words))

    def _rule_claims(self, unit: ClaimUnit) -> list[FoundClaim]:
        sentence, cues, hits, local, lang = unit.sentence, unit.cues, unit.cues.hits, unit.mentions, unit.lang
        stance_cues = {stance: cues.stances.get(stance) for stance in Stance}
        reported = any(stance_cues[s] for s in (Stance.ALLEGATION, Stance.DENIAL, Stance.ADMISSION))
        if cues.history and not reported:
            return []
        if cues.silent:
            return []
        claims: dict[ClaimType, tuple[Hit, Mention | None]] = {}
        decisive = {h.type for h in hits if h.strength != "weak"}
        for hit in hits:
            # A weak cue ("api", 基于) only counts where no stronger cue of another type speaks.
            if hit.strength == "weak" and decisive - {hit.type}:
                continue
            target = (
                None if hit.type is ClaimType.SELF_DEVELOPED else self._object_for(hit, sentence, local, lang)
            )
            claim_type = hit.type
            if hit.strength == "weak" and target is None:
                continue
            if hit.strength == "generic":
                # 套壳 / "wrapper": of an API vendor's model → api_wrapper, of an open model →
                # llama_based, of nothing named → a dispute of being self-developed.
                if target is None:
                    claim_type = ClaimType.SELF_DEVELOPED
                elif self._is_api_source(target):
                    claim_type = ClaimType.API_WRAPPER
            if claim_type not in claims or (claims[claim_type][1] is None and target is not None):
                claims[claim_type] = (hit, target)
        if not claims:
            return []
        specific = [t for t in claims if t not in (ClaimType.SELF_DEVELOPED,)]
        generic_only = {t for t, (h, _) in claims.items() if h.strength == "generic"}
        # 套壳 / "wrapper" next to a more specific cue is that specific claim, not a second one.
        if len(specific) > 1:
            for claim_type in list(claims):
                hit, _ = claims[claim_type]
                if claim_type in generic_only and any(t != claim_type and t in specific for t in claims):
                    del claims[claim_type]
        results: list[FoundClaim] = []
        for claim_type, (hit, target) in sorted(claims.items(), key=lambda item: item[1][0].start):
            results.extend(self._build_claim(claim_type, hit, target, unit))
        # With a named mechanism in the sentence, a self_developed claim stays only as the party's
        # own positive statement ("从零训练，不存在套壳Llama的情况" → self_claim + denial).
        if len({r.claim.type for r in results}) > 1:
            results = [
                r
                for r in results
                if r.claim.type is not ClaimType.SELF_DEVELOPED or r.claim.stance is Stance.SELF_CLAIM
            ]
        return results

    def _cues(self, sentence: str) -> SentenceCues:
        hits: list[Hit] = []
        stances: dict[Stance, re.Match[str]] = {}
        negations: list[tuple[int, int]] = []
        kinds: set[str] = set()
        for label, match in self.lex.sentence_cues.finditer(sentence):
            kind = label[0]
            if kind == "type":
                if match.end() > match.start():
                    hits.append(Hit(label[1], match.start(), match.end(), label[2]))
            elif kind == "stance":
                stances.setdefault(label[1], match)
            elif kind == "negation":
                negations.append(match.span())
            else:
                kinds.add(kind)
        return SentenceCues(
            hits=self._rank_hits(hits),
            stances=stances,
            negations=negations,
            history="history" in kinds,
            third_party="third" in kinds,
            analysis="analysis" in kinds,
            cleared="cleared" in kinds,
            silent="silent" in kinds,
        )

    def _rank_hits(self, hits: list[Hit]) -> list[Hit]:
        # Strong hits first, then generic, then weak; within a strength the priority order stands.
        order = {"strong": 0, "generic": 1, "weak": 2}
        hits.sort(key=lambda h: (order[h.strength], self.lex.priority.index(h.type), h.start))
        # A weak cue inside a stronger cue of another type is part of that cue ("调用" in "直接调用接口").
        kept: list[Hit] = []
        for hit in hits:
            if hit.strength == "weak" and any(k.start <= hit.start and hit.end <= k.end for k in kept):
                continue
            kept.append(hit)
        return kept

    def _object_for(self, hit: Hit, sentence: str, mentions: list[Mention], lang: Language) -> Mention | None:
        before, after = self.lex.object_window[lang]
        inside_or_after = [
            m
            for m in mentions
            if m.linked
            and m.type is not EntityType.PERSON
            and m.start >= hit.start - 1
            and m.start <= hit.end + after
        ]
        if inside_or_after:
            # A known source (Llama, GPT-4, OpenAI) named at the cue is the object before anything else.
            return min(
                inside_or_after,
                # a model before its company ("Meta's Llama" → llama)
                key=lambda m: (
                    not self._is_source(m),
                    m.type is not EntityType.MODEL,
                    m.start < hit.start,
                    abs(m.start - hit.end),
                ),
            )
        preceding = [
            m
            for m in mentions
            if m.type is not EntityType.PERSON
            and hit.start - before <= m.end <= hit.start
            and self._is_source(m)
        ]
        return preceding[-1] if preceding else None

    def _nearest_source(self, hit: Hit, mentions: list[Mention], subject: Mention | None) -> Mention | None:
        sources = [
            m
            for m in mentions
            if self._is_source(m)
            and (subject is None or not self.kb.same_party(m.entity_id, subject.entity_id))
        ]
        return min(sources, key=lambda m: abs(m.start - hit.start), default=None)

    def known_role(self, mention: Mention) -> str:
        """The role of a name the knowledge base knows, as the classifier reads it: an API vendor's
        model, an open model, another model or an organisation (once per entity)."""
        key = (mention.entity_id, mention.type)
        role = self._roles.get(key)
        if role is None:
            if self._is_api_source(mention):
                role = "⟨api-model⟩"
            elif self._in(mention, self.lex.open_sources):
                role = "⟨open-model⟩"
            else:
                role = "⟨model⟩" if mention.type is EntityType.MODEL else "⟨org⟩"
            self._roles[key] = role
        return role

    def _is_source(self, mention: Mention) -> bool:
        return self._is_api_source(mention) or self._in(mention, self.lex.open_sources)

    def _is_api_source(self, mention: Mention) -> bool:
        return self._in(mention, self.lex.api_sources)

    def _in(self, mention: Mention, ids: frozenset[str]) -> bool:
        if mention.entity_id is None:
            return False
        if mention.entity_id in ids:
            return True
        developer = self.kb.developer_of(mention.entity_id)
        return developer is not None and developer.id in ids and mention.type is EntityType.MODEL

    def _speaker(
        self, sentence: str, original: str, mentions: list[Mention]
    ) -> tuple[str | None, tuple[int, int] | None, tuple[int, int] | None]:
        """Who states the sentence: the phrase before a speech verb, or after "according to"."""
        span = None
        after = self.lex.speaker_after.search(sentence)
        if after:
            s = after.end()
            e = _clause_end(sentence, s)
            span = (s, min(e, s + 60))
        else:
            for verb in self.lex.speaker_verbs.finditer(sentence):
                # "X accused of", "Y alleged to be": passive, the phrase before is no speaker.
                if sentence.startswith((" of ", " by ", " to be "), verb.end()):
                    continue
                e = verb.start()
                s = _clause_start(sentence, e)
                # "对于外界质疑，X表示…": a topic phrase, its verb is a noun.
                if self.lex.topic_openings.match(sentence, s):
                    continue
                before = sentence[s:e].strip(QUOTES_AND_SPACE)
                if (e - s >= 2 and before) or self.lex.person_pronouns.fullmatch(before):
                    span = (s, e)
                    break
                # "'We used Qwen's tokenizer,' said a spokesperson for Tianlu AI", "Tianlu-7B, said
                # its founder, was …": the speaker follows the verb.
                if not (
                    self.lex.inverting_verbs.fullmatch(verb.group())
                    and INVERTED_BEFORE.search(sentence, 0, e)
                ):
                    continue
                after_end = _clause_end(sentence, verb.end())
                if QUOTED_BEFORE.search(sentence, 0, e) or sentence.startswith((",", "，"), after_end):
                    relative = self.lex.inverted_speaker_end.search(sentence, verb.end(), after_end)
                    after_end = relative.start() if relative else after_end
                    if 2 <= after_end - verb.end() <= 60 and not CJK.search(sentence, verb.end(), after_end):
                        span = (verb.end(), after_end)
                        break
                elif s > 0:
                    # "Mara Holt, Kinglet's founder, said the claims were false": the name and its
                    # apposition before the comma.
                    apposition = _clause_start(sentence, s - 1)
                    named = _clause_start(sentence, apposition - 1) if apposition > 0 else apposition
                    if 2 <= s - 1 - named <= 60:
                        span = (named, s - 1)
                        break
        if span is None:
            return None, None, None
        s, e = span
        # "X被网友发现": passive, the speaker is the agent after 被 and X stays the subject.
        passive = sentence.rfind("被", s, e)
        if passive >= 0 and e - passive >= 3:
            s = passive + 1
            span = (s, e)
        # The whole phrase before the verb is the speaker's ("有开发者在Hugging Face上"), its
        # place ("在Hugging Face上") is no part of the name.
        clause = span
        location = self.lex.speaker_location.search(sentence, s, e)
        if location and location.start() - s >= 2:
            e = location.start()
        trimmed = SPEAKER_TRIM.match(sentence, s)
        if trimmed and trimmed.end() < e:
            s = trimmed.end()
        while e > s and sentence[e - 1] in " ,，、":
            e -= 1
        tail = SPEAKER_TAIL.search(sentence, s, e)
        if tail and tail.start() - s >= 2:
            e = tail.start()
        if e - s < 1 or e - s > 60:
            return None, None, None
        inside = [m for m in mentions if m.start >= s and m.end <= e]
        if inside:
            people = [m for m in inside if m.type is EntityType.PERSON]
            return (people or inside)[0].name, clause, (s, e)
        if self.lex.anaphora.fullmatch(sentence[s:e].strip()):
            return None, clause, (s, e)
        return original[s:e].strip(), clause, (s, e)

    def _build_claim(
        self,
        claim_type: ClaimType,
        hit: Hit,
        target: Mention | None,
        unit: ClaimUnit,
        chosen: tuple[Mention, bool] | None = None,
    ) -> list[FoundClaim]:
        sentence, original, mentions, carried = unit.sentence, unit.original, unit.mentions, unit.carried
        speaker, speaker_span, name_span = unit.speaker, unit.speaker_span, unit.name_span
        cues, lang = unit.cues, unit.lang
        # The same for every claim read in the clause: computed once per unit.
        around = unit.derived.get("speaker-mentions")
        if around is None:
            around = unit.derived["speaker-mentions"] = (
                [
                    m
                    for m in mentions
                    if speaker_span and m.start >= speaker_span[0] and m.end <= speaker_span[1]
                ],
                [m for m in mentions if name_span and m.start >= name_span[0] and m.end <= name_span[1]],
            )
        clause_mentions, speaker_mentions = around  # type: ignore[misc]
        subject, carried_subject = chosen or self._subject(
            hit, target, mentions, clause_mentions, speaker_mentions, carried
        )
        if subject is None:
            return []
        if target is not None and target.entity_id == subject.entity_id and target.name == subject.name:
            target = None
        # A party building on its own model (Llama 3.1 on Llama 3, small Qwen distilled from a large
        # one) is no provenance claim.
        if (
            target is not None
            and target.entity_id is not None
            and subject.entity_id is not None
            and self.kb.same_party(target.entity_id, subject.entity_id)
        ):
            return []
        # A claim runs from the derived model to its source: a source as the subject of one whose
        # object is no source ("Llama … from Yi", "ChatGPT distilled from DeepSeek") reads it backwards.
        if target is not None and self._is_source(subject) and not self._is_source(target):
            return []
        negated = self._negated(sentence, hit, lang, cues)
        party = self._speaker_party(unit, speaker_mentions, subject)
        # The party whose model was copied speaks: an accuser ("ModelBest co-founder … said Llama3-V
        # was a shell of MiniCPM").
        if (
            party == "self"
            and target is not None
            and target.entity_id is not None
            and any(self.kb.same_party(m.entity_id, target.entity_id) for m in speaker_mentions)
            and not any(self.kb.same_party(m.entity_id, subject.entity_id) for m in speaker_mentions)
        ):
            party = "third"
        if party == "third" and self.lex.commentators.search(sentence[name_span[0] : name_span[1]]):
            party = "commentator"
        stance, explicit = self._stance(claim_type, hit, negated, cues, party, sentence)
        confidence = 0.5
        confidence += {"strong": 0.2, "generic": 0.15, "weak": 0.05}[hit.strength]
        confidence += 0.1 if target is not None else 0.0
        confidence += 0.1 if explicit else 0.0
        confidence -= 0.15 if carried_subject else 0.0
        confidence -= 0.1 if subject.entity_id is None else 0.0
        # Every value is typed and bounded here; validation (pydantic's compiled core) still takes
        # half the time of the Python-level `model_construct`.
        claim = Claim(
            subject=subject.entity_id,
            subject_name=subject.name,
            object=target.entity_id if target is not None else None,
            object_name=target.name if target is not None else None,
            type=claim_type,
            depth=claim_type.depth,
            stance=stance,
            speaker=speaker,
            evidence=original.strip(),
            confidence=round(min(0.98, max(0.05, confidence)), 2),
        )
        return [
            FoundClaim(
                claim=claim, sentence=-1, carried_subject=carried_subject, party=party, negated=negated
            )
        ]

    def _subject(
        self,
        hit: Hit,
        target: Mention | None,
        mentions: list[Mention],
        clause_mentions: list[Mention],
        speaker_mentions: list[Mention],
        carried: Mention | None,
    ) -> tuple[Mention | None, bool]:
        """The subject: named in the sentence outside the speaker's phrase; else the speaker's own
        party; else the subject carried over from an earlier sentence."""

        def same(a: Mention, b: Mention | None) -> bool:
            return b is not None and a.start == b.start

        # Mentions are told apart by where they start.
        excluded = {m.start for m in clause_mentions}
        if target is not None:
            excluded.add(target.start)
        options = [m for m in mentions if m.type is not EntityType.PERSON and m.start not in excluded]
        options = [m for m in options if not self._in(m, self.lex.venues)] or options
        # An epithet in quotes right before a model's name ("“最强开源模型”Reflection 70B") is no
        # second subject.
        linked_starts = {n.start for n in options if n.entity_id is not None}
        options = [
            m
            for m in options
            if m.entity_id is not None or (m.end not in linked_starts and m.end + 1 not in linked_starts)
        ]
        # The maker of a source named beside it ("阿里巴巴通义千问") is that source.
        sources = [m for m in options if self._is_source(m)]
        maker_of_source = [
            m
            for m in options
            if m.type is EntityType.ORG and any(self.kb.same_party(m.entity_id, s.entity_id) for s in sources)
        ]
        # Only sources named (Qwen2, GPT-4) and a product unknown to the knowledge base speaking
        # ("CantoLM團隊否認…改名自Qwen2"): the speaker's product is the subject, not the source.
        speaking = [m for m in speaker_mentions if m.type is not EntityType.PERSON and m.entity_id is None]
        if speaking and all(self._is_source(m) or m in maker_of_source for m in options):
            options = []
        if options:
            # The subject is named before the cue; a source (Llama, GPT-4, OpenAI) only when nothing
            # else is named.
            # The subject comes first in the sentence ("X被指…", "Researchers found that X …").
            # A claim of being self-developed has no source: any model named first is its subject.
            own = (
                options
                if hit.type is ClaimType.SELF_DEVELOPED
                else [m for m in options if not self._is_source(m) and m not in maker_of_source]
            )
            chosen = own[0] if own else options[0]
            pool = options
            # "零一万物的Yi-34B" / "01.AI's Yi-34B": the model is the more precise subject.
            if chosen.type is EntityType.ORG:
                models = [
                    m
                    for m in pool
                    if m.type is EntityType.MODEL and self.kb.same_party(m.entity_id, chosen.entity_id)
                ]
                # "Nebula AI unveiled Orion-72B": a product unknown to the KB, named beside an
                # organisation, is the more precise subject too.
                models = models or [
                    m
                    for m in own
                    if m.type is EntityType.MODEL
                    and m.entity_id is None
                    and m is not chosen
                    and (NAMELIKE.search(m.name) or m.name.endswith(MODEL_WORDS))
                ]
                if models:
                    chosen = models[0]
            return chosen, False
        parties = [m for m in speaker_mentions if m.type is not EntityType.PERSON]
        if parties:
            # "零一万物同时强调，模型是从零开始训练的": the model named before, not the company.
            # A response names the company; the claim is about the model named before, also when
            # the knowledge base cannot tell whose it is (an unknown product).
            if (
                carried is not None
                and carried.type is EntityType.MODEL
                and (
                    self.kb.same_party(carried.entity_id, parties[0].entity_id)
                    or carried.entity_id is None
                    or parties[0].entity_id is None
                )
            ):
                return carried, True
            return parties[0], False
        people = [m for m in speaker_mentions if m.type is EntityType.PERSON and m.entity_id]
        if people:
            organisation = self.kb.developer_of(people[0].entity_id)
            if (
                organisation is not None
                and carried is not None
                and self.kb.same_party(carried.entity_id, organisation.id)
            ):
                return carried, True
            if organisation is not None:
                return Mention(
                    people[0].start,
                    people[0].end,
                    people[0].surface,
                    organisation.id,
                    organisation.type,
                    organisation.name,
                ), False
        if (
            carried is not None
            and not same(carried, target)
            and (target is None or carried.entity_id != target.entity_id)
        ):
            return carried, True
        return None, False

    def _negated(self, sentence: str, hit: Hit, lang: Language, cues: SentenceCues) -> bool:
        """A negation shortly before the cue, in the same clause ("并非套壳", "did not use")."""
        window_start = max(0, hit.start - self.lex.negation_window[lang])
        for separator in "，,;；：:":
            position = sentence.rfind(separator, window_start, hit.start)
            if position >= 0:
                window_start = position + 1
        return any(window_start <= start and end <= hit.start + 1 for start, end in cues.negations)

    def _owners(self, text: str, mentions: list[Mention]) -> dict[str, frozenset[str]]:
        """Which organisation owns which model or product, where the document says so between two
        names in a row: "澜舟科技上周发布的“孟子-70B”", "夏至科技旗下知夏AI", "Quillbird's LexQuill",
        "Quillbird launched LexQuill", "LexQuill, built by Quillbird" (OWNERSHIP in the lexicon)."""
        owners: dict[str, set[str]] = {}
        for first, second in itertools.pairwise(mentions):
            if second.start < first.end or second.start - first.end > 40:
                continue
            gap = text[first.end : second.start]
            if first.type is EntityType.ORG and second.type is not EntityType.PERSON:
                owner, owned = first, second
                if not self.lex.owner_before.fullmatch(gap):
                    continue
            elif second.type is EntityType.ORG and first.type is not EntityType.PERSON:
                owner, owned = second, first
                if not self.lex.owner_after.fullmatch(gap):
                    continue
            else:
                continue
            owners.setdefault(name_key(owned.name), set()).add(owner_key(owner))
        return {name: frozenset(keys) for name, keys in owners.items()}

    def _speaker_party(
        self, unit: ClaimUnit, speaker_mentions: list[Mention], subject: Mention
    ) -> str | None:
        """ "self" when the speaker is the party the claim is about, "third" for anyone else,
        None when the clause names no speaker. What the speaker's words alone say of them, whoever
        the subject, is read once per unit (`unit.derived`)."""
        if unit.name_span is None:
            return None
        words = unit.sentence[unit.name_span[0] : unit.name_span[1]]
        if unit.previous_speaker is not None and self.lex.person_pronouns.fullmatch(words.strip()):
            # "The model, he said, was not fine-tuned": he is the speaker named before.
            speaker_mentions, words = unit.previous_speaker
            return self._party_of(unit, speaker_mentions, words, subject) or self._party_of_words(words)
        party = self._party_of(unit, speaker_mentions, words, subject)
        if party is not None:
            return party
        party = unit.derived.get("speaker-words-party")
        if party is None:
            party = unit.derived["speaker-words-party"] = self._party_of_words(words)
        if party == "self" and not speaker_mentions and self._speaks_for_another(unit, subject):
            return "third"
        return party  # type: ignore[return-value]

    def _party_of(
        self, unit: ClaimUnit, speaker_mentions: list[Mention], words: str, subject: Mention
    ) -> str | None:
        """ "self" when the speaker's names or words name the subject's party, else None."""
        if any(self._of_party(m, subject) for m in speaker_mentions):
            return "self"
        # The document said whose it is: "澜舟科技上周发布的孟子-70B … 澜舟科技否认套壳说法".
        owned_by = unit.owners.get(name_key(subject.name), frozenset())
        if owned_by and any(owner_key(m) in owned_by for m in speaker_mentions):
            return "self"
        subject_key = name_key(subject.name)
        if subject_key and subject_key in name_key(words):
            return "self"
        # A product unknown to the knowledge base and its maker share the stem of their names
        # (星河-34B and 星河科技, Nebula-7B and Nebula AI).
        if subject.entity_id is None and _stem(subject.name) and _stem(subject.name) in name_key(words):
            return "self"
        return None

    def _speaks_for_another(self, unit: ClaimUnit, subject: Mention) -> bool:
        """Whether a speaker named only by role ("A spokesperson said", "该公司表示") speaks for
        another party than the subject's: the sentence before names an organisation or person and
        nothing of the subject's ("OpenAI confirmed it had suspended the account. A spokesperson
        said ByteDance's use of the API was minimal")."""
        previous = unit.previous_mentions
        models = [m for m in previous if m.type is EntityType.MODEL]
        # A source's maker is no speaker there ("… match Meta's Llama 2. The company denied it").
        speakers = [
            m
            for m in previous
            if m.type is not EntityType.MODEL
            and not any(self.kb.same_party(m.entity_id, n.entity_id) for n in models)
        ]
        return bool(speakers) and not any(self._of_party(m, subject) for m in previous)

    def _of_party(self, mention: Mention, subject: Mention) -> bool:
        """Whether `mention` names the subject or its party (its developer, its models, its people)."""
        return self.kb.same_party(mention.entity_id, subject.entity_id) or mention.name == subject.name

    def _party_of_words(self, words: str) -> str:
        """What a speaker's words alone say of them: "self" or "third"."""
        # "its engineers", "速記鴨的開發者": the party's own staff, although "engineers" and 开发者
        # alone are third parties.
        if self.lex.own_staff.search(words):
            return "self"
        if self.lex.third_parties.search(words):
            return "third"
        if self.lex.self_speakers.search(words) or self.lex.anaphora.fullmatch(words.strip()):
            return "self"
        return "third"

    def _stance(
        self,
        claim_type: ClaimType,
        hit: Hit,
        negated: bool,
        cues: SentenceCues,
        party: str | None,
        sentence: str,
    ) -> tuple[Stance, bool]:
        """The stance, and whether a cue word said so explicitly (for the confidence)."""
        stances = cues.stances
        third = party == "third" or (party is None and cues.third_party)
        own = party == "self"
        if cues.cleared and not own:
            return Stance.ANALYSIS, True
        if party == "commentator":
            return Stance.ANALYSIS, True
        if negated:
            if claim_type is ClaimType.SELF_DEVELOPED:
                if own and not stances.get(Stance.DENIAL):
                    return Stance.ADMISSION, True
                return (
                    (Stance.ALLEGATION, True)
                    if third or stances.get(Stance.ALLEGATION)
                    else (Stance.DENIAL, True)
                )
            if third and not stances.get(Stance.DENIAL):
                return Stance.ANALYSIS, True
            return Stance.DENIAL, True
        if stances.get(Stance.ADMISSION) and not third:
            return Stance.ADMISSION, True
        if stances.get(Stance.DENIAL) and not third and claim_type is not ClaimType.SELF_DEVELOPED:
            return Stance.DENIAL, True
        if claim_type is ClaimType.SELF_DEVELOPED:
            claimed = stances.get(Stance.SELF_CLAIM)
            if stances.get(Stance.ALLEGATION) and not claimed and not own:
                return Stance.ALLEGATION, True
            if third and not claimed:
                return Stance.ANALYSIS, False
            return Stance.SELF_CLAIM, bool(claimed) or own
        if own:
            return Stance.SELF_CLAIM, bool(stances.get(Stance.SELF_CLAIM))
        if stances.get(Stance.ALLEGATION) or party == "third":
            return Stance.ALLEGATION, True
        if cues.analysis or third:
            return Stance.ANALYSIS, False
        if stances.get(Stance.SELF_CLAIM):
            return Stance.SELF_CLAIM, True
        # A plain statement with no one saying it and no allegation word: an explainer.
        return Stance.ANALYSIS, False


def owner_key(mention: Mention) -> str:
    """An organisation as an owner: its entity id, or its folded name when unknown."""
    return mention.entity_id or "?" + name_key(mention.name)


def merge_claims(found: list[FoundClaim], kb: KnowledgeBase) -> list[Claim]:
    """One claim per (subject, type, object, stance): the most confident evidence, confidence
    raised a little by each repetition (several sentences saying it is stronger than one).

    A claim that names no object joins the most confident one of the same subject, type and stance
    that does: "Karel-9B被指套壳" in the title and "Karel-9B被指套壳Llama" in the text are one
    allegation, and two would mean two alerts and two incident entries for it. Likewise a claim
    naming the source by its company (OpenAI) or family (Llama) joins one naming the model itself
    (ChatGPT, Llama 3), and a claim that reads the article's claims backwards is dropped (`_backwards`)."""
    merged: dict[tuple, Claim] = {}
    for item in found:
        claim = item.claim
        _merge_into(
            merged,
            (claim.subject or claim.subject_name.lower(), claim.type, claim.stance, claim.object),
            claim,
        )
    for key in [key for key in merged if key[3] is None]:
        _fold(merged, key, [other for other in merged if other[:3] == key[:3] and other[3] is not None])
    for key in [key for key in merged if key[3] is not None]:
        _fold(
            merged,
            key,
            [
                other
                for other in merged
                if other[:3] == key[:3]
                and other[3] is not None
                and _more_specific_source(other[3], key[3], kb)
            ],
        )
    claims = list(merged.values())
    backwards = {id(claim) for claim in _backwards(claims, kb)}
    return [claim for claim in claims if id(claim) not in backwards]


def _fold(merged: dict[tuple, Claim], key: tuple, into: list[tuple]) -> None:
    """The claim at `key` joins the most confident claim of the keys `into`, if there is one."""
    if into:
        best = max(into, key=lambda other: merged[other].confidence)
        _merge_into(merged, best, merged.pop(key), keep_existing=True)


def _more_specific_source(candidate: str, than: str, kb: KnowledgeBase) -> bool:
    """`candidate` names the same source as `than`, more precisely: a model of the organisation
    `than` (ChatGPT for OpenAI) or a version of the family `than` (llama-3 for llama)."""
    if candidate.startswith(than + "-"):
        return True
    entity, other = kb.get(candidate), kb.get(than)
    return (
        entity is not None
        and other is not None
        and entity.type is EntityType.MODEL
        and other.type is EntityType.ORG
        and kb.same_party(candidate, than)
    )


def _backwards(claims: list[Claim], kb: KnowledgeBase) -> list[Claim]:
    """The claims that read a sentence backwards: an article's claims run from the derived model
    to its source ("Yi-34B沿用Llama架构"), and a claim the other way between the same two parties
    ("Llama … from Yi"), or about the source with no object, is the weaker reading when the
    claims pointing at its subject are at least as confident together."""

    def support(subject: str, source: str) -> float:
        return sum(
            c.confidence
            for c in claims
            if c.subject is not None
            and c.object is not None
            and kb.same_party(c.subject, subject)
            and kb.same_party(c.object, source)
        )

    backwards = []
    for claim in claims:
        if claim.subject is None:
            continue
        if claim.object is None:
            pointing = sum(
                c.confidence
                for c in claims
                if c.object is not None and kb.same_party(c.object, claim.subject)
            )
            if pointing >= claim.confidence:
                backwards.append(claim)
        elif not kb.same_party(claim.subject, claim.object) and support(
            claim.object, claim.subject
        ) > support(claim.subject, claim.object):
            backwards.append(claim)
    return backwards


def _merge_into(merged: dict[tuple, Claim], key: tuple, claim: Claim, *, keep_existing: bool = False) -> None:
    existing = merged.get(key)
    if existing is None:
        merged[key] = claim
        return
    combined = 1 - (1 - existing.confidence) * (1 - claim.confidence * 0.3)
    best = existing if keep_existing or existing.confidence >= claim.confidence else claim
    merged[key] = best.model_copy(update={"confidence": round(min(0.99, combined), 2)})
