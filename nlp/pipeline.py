"""The analysis pipeline: spaCy pipelines for Chinese and English and the `Analyzer` around them.

Each language has a `spacy.blank` pipeline with the same custom components:

- `shellwatch_sentences`: the folded text (nlp/script.py) and the sentence spans;
- `shellwatch_kb_entities`: knowledge-base names (nlp/matching.py);
- `shellwatch_unknown_models`: model names the knowledge base does not know; then all names are
  set as the span group `doc.spans["shellwatch"]` (label ORG / MODEL / PERSON / UNKNOWN_MODEL,
  entity id as `kb_id_`);
- `shellwatch_claims`: claims from the sentences that carry a claim cue: the rules (nlp/claims.py)
  find the candidate clauses, the trained classifier (nlp/classifier.py) decides their claims, all
  clauses of a batch of documents at once, and reads the first sentence for relevance.

The Chinese pipeline tokenises by character (`CharTokenizer`): names are matched on the text, so
a word segmenter would only cost time, and a segmenter that cuts a name differently in context
would make a token-based matcher miss it (BENCHMARKS.md has the measurement).

`Analyzer` prepares the input (HTML, garbage, cutting), picks the language, runs the pipeline
(batched with `nlp.pipe` in `analyze_many`) and builds the article-level `Analysis`: entities,
claims merged per subject (in a long article only the salient ones), relevance and event dates.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import spacy
from spacy.language import Language as SpacyLanguage
from spacy.tokens import Doc, Span
from spacy.util import minibatch
from spacy.vocab import Vocab

from nlp.claims import ClaimExtractor, ClaimLexicon, ClaimUnit, FoundClaim, load_claim_lexicon, merge_claims
from nlp.classifier import ClaimClassifier, lede_tokens
from nlp.dates import event_dates
from nlp.knowledge_base import KnowledgeBase, load_knowledge_base, name_key
from nlp.matching import Mention, NameMatcher, ProductNameFinder, UnknownModelFinder
from nlp.relevance import RelevanceModel
from nlp.script import fold
from nlp.text import MAX_CHARS, decode, detect_language, prepare, sentence_spans
from shellwatch.config import Settings
from shellwatch.domain import Analysis, Article, Claim, EntityMention, EntityType, Language

for _name in (
    "sw_text",
    "sw_folded",
    "sw_sentences",
    "sw_mentions",
    "sw_candidates",
    "sw_claims",
    "sw_units",
    "sw_relevance",
):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)

# A word, a number or a punctuation mark with the one space after it (its trailing space), or a
# run of other whitespace (a token of its own).
WORD_TOKEN = re.compile(r"(\w+|[^\w\s])( (?!\s))?|(\s+)")
ENT_LABELS = {EntityType.ORG: "ORG", EntityType.MODEL: "MODEL", EntityType.PERSON: "PERSON"}
# A long article whose lede the classifier finds less likely than this to be about provenance is
# read for names but not for claims: above the ledes of most ordinary AI news (22 of the 26
# irrelevant Chinese development examples, 10 of the 22 English ones), below those of every demo
# newsroom article (0.55 and up) and of all but two relevant development examples (0.16 and 0.27:
# responses, "零一万物回应称，Yi-34B…沿用了GPT/LLaMA的基本架构…"). A lede between
# CERTAIN_BACKGROUND_LEDE and BACKGROUND_LEDE that the claim rules would read (a cue beside a
# known name, as in those two) is given the benefit of the doubt; below CERTAIN_BACKGROUND_LEDE
# only a lede with a strong cue beside a known name is.
BACKGROUND_LEDE = 0.3
CERTAIN_BACKGROUND_LEDE = 0.1


class _Orths(dict):
    """Token text → its hash in the vocab's string store, interned on first sight. `Doc` given
    hashes instead of strings skips hashing every token's text again: that was most of the time
    of building a 2,000-character Chinese document. Cleared when it grows past MAX_ORTHS (the
    store keeps the strings; only this shortcut forgets them)."""

    MAX_ORTHS = 200_000

    def __init__(self, vocab: Vocab) -> None:
        super().__init__()
        self.strings = vocab.strings

    def __missing__(self, text: str) -> int:
        if len(self) >= self.MAX_ORTHS:
            self.clear()
        orth = self[text] = self.strings.add(text)
        return orth


class CharTokenizer:
    """One token per character: the Chinese tokeniser (names are matched on the text itself)."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        self._orths = _Orths(vocab)

    def __call__(self, text: str) -> Doc:
        doc = Doc(self.vocab, words=list(map(self._orths.__getitem__, text)), spaces=[False] * len(text))
        doc._.sw_text = text
        return doc


class WordTokenizer:
    """Words, numbers and single punctuation marks: the English tokeniser. Names and cues are
    matched on the text, so tokens only carry spans; spaCy's rule-based tokeniser would cost more
    than the whole analysis (BENCHMARKS.md)."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab
        self._orths = _Orths(vocab)

    def __call__(self, text: str) -> Doc:
        pieces = WORD_TOKEN.findall(text)
        orths = self._orths
        words = [orths[word or blank] for word, _, blank in pieces]
        spaces = [bool(space) for _, space, _ in pieces]
        doc = Doc(self.vocab, words=words, spaces=spaces)
        doc._.sw_text = text
        return doc


@dataclass
class Resources:
    """What the components share: the knowledge base and the compiled lexicons."""

    kb: KnowledgeBase
    names: NameMatcher
    unknown: UnknownModelFinder
    products: ProductNameFinder
    claims: ClaimExtractor
    classifier: ClaimClassifier | None
    background_lede: float | None = None  # see ClaimComponent; None: every article read for claims


class SentenceComponent:
    def __call__(self, doc: Doc) -> Doc:
        if doc._.sw_text is None:
            doc._.sw_text = doc.text
        text = doc._.sw_text
        doc._.sw_folded = fold(text)
        doc._.sw_sentences = sentence_spans(text)
        return doc


class KbEntityComponent:
    def __init__(self) -> None:
        self.names: NameMatcher | None = None

    def __call__(self, doc: Doc) -> Doc:
        assert self.names is not None, "configure the pipeline with build_pipeline()"
        doc._.sw_mentions = self.names.find(doc._.sw_text, doc._.sw_folded)
        return doc


class UnknownModelComponent:
    def __init__(self) -> None:
        self.finder: UnknownModelFinder | None = None
        self.char_tokens = False  # True behind CharTokenizer: token i is character i

    def __call__(self, doc: Doc) -> Doc:
        assert self.finder is not None, "configure the pipeline with build_pipeline()"
        known = doc._.sw_mentions or []
        unknown = self.finder.find(doc._.sw_text, known)
        if unknown:
            doc._.sw_mentions = sorted([*known, *unknown], key=lambda m: m.start)
        _set_ents(doc, doc._.sw_mentions, one_token_per_char=self.char_tokens)
        return doc


class ClaimComponent:
    """Claims of each document: the rules' candidate clauses (`doc._.sw_units`), decided by the
    trained classifier when there is one (all clauses of a batch of documents at once), else the
    rules' own claims.

    With the classifier, the lede is read first: a long article whose title (or first sentence)
    the classifier finds unlikely to be about provenance is ordinary news (a launch, a funding
    round): its clauses are not read for claims (`background_lede`)."""

    def __init__(self, language: Language) -> None:
        self.language = language
        self.extractor: ClaimExtractor | None = None
        self.products: ProductNameFinder | None = None
        self.classifier: ClaimClassifier | None = None
        self.background_lede: float | None = None

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        for batch in minibatch(docs, size=batch_size):
            if self.classifier is not None:
                self._read_ledes(batch)
            for doc in batch:
                if self._background(doc):
                    doc._.sw_claims = []
                    doc._.sw_units = []
                else:
                    self._rules(doc)
            if self.classifier is not None:
                self._decide(batch)
            yield from batch

    def _background(self, doc: Doc) -> bool:
        """A long article (more than SHORT_TEXT sentences) with a lede below `background_lede`
        (and, unless below CERTAIN_BACKGROUND_LEDE, without a cue the claim rules would read):
        the claims of such an article would have to be about a party of that lede (see
        `salient_claims`), which is about something else."""
        if (
            self.background_lede is None
            or doc._.sw_relevance is None
            or doc._.sw_relevance >= self.background_lede
            or len(doc._.sw_sentences or ()) <= SHORT_TEXT
        ):
            return False
        assert self.extractor is not None
        lede = doc._.sw_sentences[:1]
        if doc._.sw_relevance < min(CERTAIN_BACKGROUND_LEDE, self.background_lede):
            # Only a strong cue beside a known name spares it ("Yi-34B…沿用了LLaMA的基本架构"):
            # the lede classifier's score of such a response moved 0.27 → 0.16 → 0.08 in retrains.
            return not self.extractor.strongly_cued(doc._.sw_folded, lede[0], doc._.sw_mentions or [])
        return not self.extractor.candidate_sentences(doc._.sw_folded, lede, doc._.sw_mentions or [])

    def _rules(self, doc: Doc) -> None:
        assert self.extractor is not None, "configure the pipeline with build_pipeline()"
        units: list[ClaimUnit] = []
        doc._.sw_claims = self.extractor.extract(
            doc._.sw_text,
            doc._.sw_folded,
            doc._.sw_sentences,
            doc._.sw_mentions or [],
            self.language,
            products=self.products,
            units=units,
        )
        doc._.sw_units = units

    def _read_ledes(self, docs: list[Doc]) -> None:
        """The classifier's probability that each document's lede is about provenance."""
        assert self.classifier is not None and self.extractor is not None
        model = self.classifier.models[self.language]
        ledes = [
            lede_tokens(doc._.sw_folded, doc._.sw_sentences, doc._.sw_mentions or [], self.extractor)
            for doc in docs
        ]
        for doc, tokens, p in zip(docs, ledes, model.relevance_scores(ledes), strict=True):
            # No word at all ("</p></div>"): nothing in it is about provenance.
            doc._.sw_relevance = p if tokens else 0.0

    def _decide(self, docs: list[Doc]) -> None:
        """The classifier's claims of each unit replace the rules' own. In a long article, only
        the units that may yield a claim about a party of its lede are decided (see
        `_may_be_salient`): the others' claims would be dropped by `salient_claims`."""
        assert self.classifier is not None and self.extractor is not None
        units = [unit for doc in docs for unit in doc._.sw_units]
        if not units:
            return
        ledes = {}  # id(unit) → the lede and its parties, for the units of long articles
        for doc in docs:
            lede = lede_parties(doc._.sw_mentions or [], doc._.sw_sentences or [], doc._.sw_text or "")
            if lede is not None:
                ledes.update((id(unit), lede) for unit in doc._.sw_units)

        def wanted(unit: ClaimUnit) -> bool:
            lede = ledes.get(id(unit))
            return lede is None or self._may_be_salient(unit, *lede)

        decided = iter(self.classifier.decide(units, self.extractor, wanted))
        for doc in docs:
            by_rules = {id(found) for unit in doc._.sw_units for found in unit.rule_claims}
            # Claims outside the candidate clauses (a response to an earlier allegation) stay.
            kept = [found for found in doc._.sw_claims if id(found) not in by_rules]
            for _ in doc._.sw_units:
                kept.extend(next(decided))
            kept.sort(key=lambda found: found.sentence)
            doc._.sw_claims = kept

    def _may_be_salient(self, unit: ClaimUnit, lede: str, parties: set[str]) -> bool:
        """Whether a claim the classifier decides in `unit` (of a long article: `lede` and its
        `parties`, see `lede_parties`) can be one that `salient_claims` keeps: the classifier's
        claims are about one of the unit's subject options (which it computes anyway), and one
        that is neither named in the lede nor a party of it is dropped there."""
        assert self.extractor is not None
        kb = self.extractor.kb
        return any(
            option.mention.name in lede
            if option.mention.entity_id is None
            else any(kb.same_party(p, option.mention.entity_id) for p in parties)
            for option in self.extractor.subject_options(unit)
        )


@SpacyLanguage.factory("shellwatch_sentences")
def _make_sentences(nlp: SpacyLanguage, name: str) -> SentenceComponent:
    return SentenceComponent()


@SpacyLanguage.factory("shellwatch_kb_entities")
def _make_kb_entities(nlp: SpacyLanguage, name: str) -> KbEntityComponent:
    return KbEntityComponent()


@SpacyLanguage.factory("shellwatch_unknown_models")
def _make_unknown_models(nlp: SpacyLanguage, name: str) -> UnknownModelComponent:
    return UnknownModelComponent()


@SpacyLanguage.factory("shellwatch_claims")
def _make_claims(nlp: SpacyLanguage, name: str) -> ClaimComponent:
    return ClaimComponent(Language(nlp.lang))


def _set_ents(doc: Doc, mentions: list[Mention], *, one_token_per_char: bool) -> None:
    """The names as a span group `doc.spans["shellwatch"]` (label ORG / MODEL / PERSON /
    UNKNOWN_MODEL, entity id as `kb_id_`). A span group, not `doc.ents`: setting `doc.ents`
    walks every token, which costs more than the matching itself on a 2,000-token document."""
    spans = []
    for mention in mentions:
        label = ENT_LABELS[mention.type] if mention.linked else "UNKNOWN_MODEL"
        if one_token_per_char:
            span = Span(doc, mention.start, mention.end, label=label, kb_id=mention.entity_id or "")
        else:
            span = doc.char_span(
                mention.start,
                mention.end,
                label=label,
                kb_id=mention.entity_id or "",
                alignment_mode="expand",
            )
        if span is not None:
            spans.append(span)
    doc.spans["shellwatch"] = spans


def build_pipeline(language: Language, resources: Resources) -> SpacyLanguage:
    """A blank spaCy pipeline for `language` with the ShellWatch components, configured."""
    nlp = spacy.blank(language.value)
    if language is Language.ZH:
        nlp.tokenizer = CharTokenizer(nlp.vocab)
    else:
        nlp.tokenizer = WordTokenizer(nlp.vocab)
    nlp.add_pipe("shellwatch_sentences")
    nlp.add_pipe("shellwatch_kb_entities").names = resources.names
    unknown = nlp.add_pipe("shellwatch_unknown_models")
    unknown.finder = resources.unknown
    unknown.char_tokens = language is Language.ZH
    claims = nlp.add_pipe("shellwatch_claims")
    claims.extractor = resources.claims
    claims.products = resources.products
    claims.classifier = resources.classifier
    claims.background_lede = resources.background_lede
    return nlp


@dataclass
class _Prepared:
    text: str
    language: Language
    notes: list[str]
    published_at: datetime | date | None
    binary: bool


_frozen = False


def freeze_loaded_objects() -> None:
    """Once per process, after its analyzer is loaded (`load_analyzer`, which the workers, the
    embedded pipeline and `shellwatch analyze` use): move every object alive then (the
    imported libraries, the pipelines, models and lexicons: about 100,000 objects) out of the
    garbage collector's sight (`gc.freeze`). Each full collection walked them all again, and
    the allocations of an analysis trigger one every few dozen articles: 10-15% of the analysis
    time. Garbage is collected first; what is frozen is only freed when its references go (not
    as part of a reference cycle), which costs nothing for what lives as long as the process."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


class Analyzer:
    """Entities, claims, relevance and dates of articles in Chinese (either script) and English."""

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        lexicon: ClaimLexicon | None = None,
        relevance: RelevanceModel | None = None,
        classifier: ClaimClassifier | None | str = "shipped",
        max_chars: int = MAX_CHARS,
        batch_size: int = 64,
        background_lede: float | None = BACKGROUND_LEDE,
    ) -> None:
        """`background_lede`: long articles whose lede the claim classifier finds less likely than
        this to be about provenance are not read for claims (None: every article is)."""
        self.kb = kb
        self.max_chars = max_chars
        self.batch_size = batch_size
        self.relevance_model = relevance or RelevanceModel.load()
        self.resources = Resources(
            kb=kb,
            names=NameMatcher(kb),
            unknown=UnknownModelFinder(kb),
            products=ProductNameFinder(),
            claims=ClaimExtractor(kb, lexicon or load_claim_lexicon()),
            # "shipped": the trained model in nlp/data/models/claims; None: the rules alone.
            classifier=ClaimClassifier.load() if classifier == "shipped" else classifier,
            background_lede=background_lede,
        )
        self.pipelines = {language: build_pipeline(language, self.resources) for language in Language}

    def analyze(
        self,
        text: str | bytes,
        *,
        title: str | None = None,
        language: Language | str | None = None,
        published_at: datetime | date | None = None,
    ) -> Analysis:
        """Analyse one text (plain text or HTML, str or bytes in any encoding)."""
        return next(self.analyze_many([(text, title, language, published_at)]))

    def analyze_article(self, article: Article) -> Analysis:
        return self.analyze(
            article.text, title=article.title, language=article.language, published_at=article.published_at
        )

    def analyze_articles(self, articles: Iterable[Article]) -> Iterator[Analysis]:
        """Analyses of many articles, in order, batched through `nlp.pipe`."""
        return self.analyze_many((a.text, a.title, a.language, a.published_at) for a in articles)

    def analyze_many(
        self,
        items: Iterable[tuple[str | bytes, str | None, Language | str | None, datetime | date | None]],
    ) -> Iterator[Analysis]:
        """Analyses of (text, title, language, published_at) items, in order, batched by language."""
        batch: list[_Prepared] = []
        for text, title, language, published_at in items:
            batch.append(self._prepare(text, title, language, published_at))
            if len(batch) >= self.batch_size:
                yield from self._run(batch)
                batch = []
        if batch:
            yield from self._run(batch)

    def _prepare(
        self,
        text: str | bytes,
        title: str | None,
        language: Language | str | None,
        published_at: datetime | date | None,
    ) -> _Prepared:
        if isinstance(text, bytes):
            text = decode(text)
        if title and title.strip() and not text.lstrip().startswith(title.strip()):
            text = f"{title.strip()}\n{text}"
        prepared = prepare(text or "", max_chars=self.max_chars)
        detected = detect_language(prepared.text, hint=language)
        return _Prepared(prepared.text, detected, prepared.notes, published_at, prepared.binary)

    def _run(self, batch: list[_Prepared]) -> Iterator[Analysis]:
        docs: list[Doc | None] = [None] * len(batch)
        for language, nlp in self.pipelines.items():
            indexes = [i for i, item in enumerate(batch) if item.language is language]
            texts = (batch[i].text for i in indexes)
            for i, doc in zip(indexes, nlp.pipe(texts, batch_size=self.batch_size), strict=True):
                docs[i] = doc
        for item, doc in zip(batch, docs, strict=True):
            assert doc is not None
            yield self._analysis(item, doc)

    def _analysis(self, item: _Prepared, doc: Doc) -> Analysis:
        mentions: list[Mention] = doc._.sw_mentions or []
        found: list[FoundClaim] = doc._.sw_claims or []
        found = salient_claims(found, mentions, doc._.sw_sentences or [], doc._.sw_text or "", self.kb)
        shown = self.resources.claims.lex.shown_speaker
        claims = [shown.of(claim) for claim in merge_claims(found, self.kb)]
        entities = entity_mentions(mentions)
        # A claim about a name the knowledge base does not know makes that name an entity too.
        unlinked = [claim for claim in claims if claim.subject is None]
        known_names = {name_key(e.name) for e in entities} if unlinked else set()
        for claim in unlinked:
            if name_key(claim.subject_name) not in known_names:
                known_names.add(name_key(claim.subject_name))
                entities.append(
                    EntityMention(
                        id=None,
                        name=claim.subject_name,
                        type=EntityType.MODEL,
                        surface=[claim.subject_name],
                        linked=False,
                    )
                )
        linked = sum(1 for e in entities if e.linked)
        features = self.relevance_model.features(doc._.sw_folded or "", claims, linked, doc._.sw_relevance)
        probability = 0.0 if item.binary else self.relevance_model.probability(features)
        notes = list(item.notes)
        if not item.text:
            notes.append("no text to analyse")
        relevant = probability >= self.relevance_model.threshold
        return Analysis(
            language=item.language,
            relevant=relevant,
            relevance=round(probability, 3),
            entities=entities,
            claims=claims,
            # Dates matter for the timeline of relevant articles only; skipping the rest saves time.
            event_dates=(
                event_dates(item.text, item.published_at, folded=doc._.sw_folded)
                if relevant and item.text
                else []
            ),
            notes=notes,
        )


LEDE_SENTENCES = 2  # the title (prepended to the text) and the first sentence
SHORT_TEXT = 6  # sentences: a text this short is all lede
# Most sentences of a long article are background: a claim there needs this much confidence
# (the classifier's probability; chosen on the demo newsroom, bench/nlp_quality.py --split demo).
LONG_TEXT_MIN_CONFIDENCE = 0.25


def salient_claims(
    found: list[FoundClaim],
    mentions: list[Mention],
    sentences: list[tuple[int, int]],
    text: str,
    kb: KnowledgeBase,
) -> list[FoundClaim]:
    """The claims about what an article is about: in a long article, a claim's subject (or its
    party: 01.AI for Yi-34B) must be named in the title or the first sentence, and the claim be
    at least LONG_TEXT_MIN_CONFIDENCE likely. Background sentences (another company's old
    controversy, the source model, a word a name pattern caught by mistake) then open no
    incident. Texts of up to SHORT_TEXT sentences keep all their claims."""
    lede_and_parties = lede_parties(mentions, sentences, text)
    if lede_and_parties is None or not found:
        return found
    lede, parties = lede_and_parties

    def salient(claim: Claim) -> bool:
        if claim.confidence < LONG_TEXT_MIN_CONFIDENCE:
            return False
        if claim.subject is None:
            return claim.subject_name in lede
        return any(kb.same_party(entity_id, claim.subject) for entity_id in parties)

    return [f for f in found if salient(f.claim)]


def lede_parties(
    mentions: list[Mention], sentences: list[tuple[int, int]], text: str
) -> tuple[str, set[str]] | None:
    """The lede (title and first sentence) of a long article and the entities it names, which
    its claims must be about (`salient_claims`); None for a text of up to SHORT_TEXT sentences."""
    if len(sentences) <= SHORT_TEXT:
        return None
    lede_end = sentences[LEDE_SENTENCES - 1][1]
    return text[:lede_end], {m.entity_id for m in mentions if m.start < lede_end and m.entity_id is not None}


def entity_mentions(mentions: list[Mention]) -> list[EntityMention]:
    """One `EntityMention` per entity (or unknown name), in order of first mention."""
    grouped: dict[str, EntityMention] = {}
    for mention in mentions:
        key = mention.entity_id or "?" + name_key(mention.surface)
        entry = grouped.get(key)
        if entry is None:
            # Validated, though the values are typed already: with pydantic 2.14, validation in its
            # compiled core takes half the time of the Python-level `model_construct`.
            grouped[key] = EntityMention(
                id=mention.entity_id,
                name=mention.name,
                type=mention.type,
                surface=[mention.surface],
                linked=mention.linked,
            )
        elif mention.surface not in entry.surface:
            entry.surface.append(mention.surface)
    return list(grouped.values())


def load_analyzer(settings: Settings, *, knowledge_base_file: Path | None = None) -> Analyzer:
    """The analyzer for the configured knowledge base (SHELLWATCH_KNOWLEDGE_BASE)."""
    analyzer = Analyzer(load_knowledge_base(knowledge_base_file or settings.knowledge_base_file))
    # A process-wide setting, made where a process loads the analyzer it serves with, not by
    # every Analyzer (tests and benchmarks build many).
    freeze_loaded_objects()
    return analyzer
