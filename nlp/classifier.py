"""The trained claim classifier: which claims a candidate clause makes, of which type and stance.

The rule engine (nlp/claims.py) finds the candidate clauses (a claim cue occurs in them, or a
response follows an allegation) and reads in each its cues, speaker, subject, object and negation:
a `ClaimUnit`. This module decides, per language, with three spaCy bag-of-words text classifiers
(`spacy.TextCatBOW.v3`: hashed n-grams, linear, fast):

- `claim_type` (`textcat_multilabel`): the probability of each of the seven types in the clause;
- the candidate types of a clause: the rules' own types, the other types its cues name when
  `claim_type` finds them at least `cue_gate` likely (a generic cue such as 套壳 names three),
  and any type at least `threshold` likely;
- `claim_subject` (`textcat`, exclusive, "subject" or "other"): for each candidate type, every
  party the clause may be about (`ClaimExtractor.subject_options`: the names in it, known or not,
  the speaker's company, names the name finders missed, the subject carried from an earlier
  sentence) is scored with the clause's words, that party marked ⟨subj⟩ and the others by their
  role, and with what tells a subject from an object (its kind, the speaker, its place at the cue,
  the words around it, 被/"of"/"by", the rules' choice); the likeliest party of which a claim can
  be made is the subject, and the rules read the claim about it (object, speaker, their stance);
- `claim` (`textcat`, exclusive): for each (subject, type), the five stances or "none"; a
  candidate at least `no_claim` likely to be none is dropped, else its stance is the likeliest and
  the claim's `confidence` that stance's probability (each candidate and what every stage made
  of it is a `Decision`: bench/nlp_quality.py --stages reads them to tell where a claim was lost);
- `relevance` (`textcat`): the probability that the document's first sentence (its title) is about
  provenance, a feature of the relevance model (nlp/relevance.py).

The input is the folded clause with every name replaced by its role (⟨api-model⟩, ⟨open-model⟩,
⟨model⟩, ⟨org⟩, ⟨person⟩, ⟨unknown⟩, and ⟨subj⟩ for the candidate subject: the model learns
wording, not incidents), after tokens for what the rules read (cue types, stance words, negation,
speaker, the rules' claims, and for a candidate its type crossed with the object's and subject's
kind, the speaker's party, what the speaker says and the type probability). Chinese is one token per character, so the n-grams are character n-grams; English is
words. Trained by `shellwatch train-nlp` (nlp/training.py); shipped in nlp/data/models/claims/ with
the hash of its training data in meta.json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy
import spacy
from spacy.language import Language as SpacyLanguage
from spacy.strings import get_string_id

from nlp.claims import CJK, NAMELIKE, ClaimExtractor, ClaimUnit, FoundClaim, Hit, SubjectOption
from nlp.matching import Mention
from shellwatch.domain import ClaimType, EntityType, Language, Stance

MODEL_DIR = Path(__file__).resolve().parent / "data" / "models" / "claims"
TYPE_PIPE = "claim_type"
SUBJECT_PIPE = "claim_subject"
SUBJECT_LABELS = ["subject", "other"]
CLAIM_PIPE = "claim"
RELEVANCE_PIPE = "relevance"
RELEVANCE_LABELS = ["relevant", "irrelevant"]
LEDE_CHARS = 200
NO_CLAIM = "none"
MAX_CLAUSE_CHARS = 400
PREDICT_CHUNK = 1024  # inputs per call of a linear model
WORD = re.compile(r"\w+|[^\w\s]")
HAS_WORD = re.compile(r"[^\W_]")
TYPE_ORDER = {claim_type: index for index, claim_type in enumerate(ClaimType)}


def mention_role(mention: Mention, extractor: ClaimExtractor) -> str:
    """What a name stands for in the clause, as the classifier sees it."""
    if mention.type is EntityType.PERSON:
        return "⟨person⟩"
    if not mention.linked:
        return "⟨unknown⟩"
    return extractor.known_role(mention)


def text_tokens(unit: ClaimUnit, extractor: ClaimExtractor) -> list[str]:
    """The clause's tokens, names replaced by their roles: characters for Chinese, words for English."""
    tokens: list[str] = []
    for piece in clause_pieces(unit, extractor):
        tokens.extend(piece.tokens)
    return tokens


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of a clause: the words between names, or one name (its tokens: its role)."""

    start: int
    end: int
    tokens: list[str]
    mention: Mention | None


def clause_pieces(unit: ClaimUnit, extractor: ClaimExtractor) -> list[Piece]:
    """The clause cut at its names, tokenised once for all the candidates marked in it."""
    known = unit.derived.get("pieces")
    if known is not None:
        return known  # type: ignore[return-value]
    sentence = unit.sentence
    pieces: list[Piece] = []
    position = 0
    for mention in sorted(unit.mentions, key=lambda m: m.start):
        if mention.start < position:
            continue
        pieces.append(
            Piece(position, mention.start, _words(sentence[position : mention.start], unit.lang), None)
        )
        pieces.append(Piece(mention.start, mention.end, [mention_role(mention, extractor)], mention))
        position = mention.end
    pieces.append(Piece(position, len(sentence), _words(sentence[position:], unit.lang), None))
    unit.derived["pieces"] = pieces
    return pieces


def marked_tokens(
    unit: ClaimUnit, option: SubjectOption, extractor: ClaimExtractor, pieces: list[Piece] | None = None
) -> list[str]:
    """The clause's tokens with the candidate subject as ⟨subj⟩ and every other name as its role
    (a carried subject, named in an earlier sentence, is a ⟨subj⟩ before the clause; a name no
    finder found, the speaker's or a proposed one, is cut out of the words around it)."""
    if pieces is None:
        pieces = clause_pieces(unit, extractor)
    subject = option.mention
    tokens: list[str] = ["⟨subj⟩", "⟨:⟩"] if option.origin == "carried" else []
    for piece in pieces:
        mention = piece.mention
        if mention is not None:
            same = mention.start == subject.start or (
                mention.entity_id is not None and mention.entity_id == subject.entity_id
            )
            tokens.append("⟨subj⟩" if same else piece.tokens[0])
        elif piece.start <= subject.start < piece.end and option.origin in ("speaker", "proposed"):
            sentence, lang = unit.sentence, unit.lang
            tokens.extend(_words(sentence[piece.start : subject.start], lang))
            tokens.append("⟨subj⟩")
            tokens.extend(_words(sentence[min(subject.end, piece.end) : piece.end], lang))
        else:
            tokens.extend(piece.tokens)
    return tokens


def subject_features(
    unit: ClaimUnit,
    option: SubjectOption,
    claim_type: ClaimType,
    extractor: ClaimExtractor,
    rule_subject: tuple[str | None, str] | None,
    count: int,
    rule_object: Mention | None = None,
    beside: frozenset[str] = frozenset(),
    *,
    hit: Hit,
) -> list[str]:
    """What tells the subject of a claim of `claim_type` from the other parties of the clause:
    how the clause names the candidate (`option_context`), whether the rules chose it or read it
    as the object, where it stands from the cue. Crossed with the type: Llama is rarely the
    subject of a llama_based claim, but may be one of self_developed."""
    t = claim_type.value
    mention = option.mention
    kind, context = option_context(unit, option, extractor)
    features = [*context, f"⟨{t}|kind:{kind}⟩", f"⟨{t}|origin:{option.origin}⟩", f"⟨options:{min(count, 4)}⟩"]
    if rule_subject is not None and option_key(mention) == rule_subject:
        features += ["⟨rule-choice⟩", f"⟨{t}|rule-choice⟩"]
    if option.origin == "carried":
        # The subject of an earlier sentence, against what this clause names itself.
        return features + [f"⟨carried-beside:{k}⟩" for k in sorted(beside)]
    if rule_object is not None and rule_object.start == mention.start:
        features += ["⟨rule-object⟩", f"⟨{t}|rule-object⟩"]
    if mention.end <= hit.start:
        gap = hit.start - mention.end
        where = "before-near" if gap <= 3 else "before" if gap <= 15 else "before-far"
    elif mention.start >= hit.end:
        gap = mention.start - hit.end
        where = "after-near" if gap <= 3 else "after" if gap <= 15 else "after-far"
    else:
        where = "inside"
    features += [f"⟨at-cue:{where}⟩", f"⟨{t}|at-cue:{where}⟩", f"⟨{kind}|at-cue:{where}⟩"]
    return features


def option_context(
    unit: ClaimUnit, option: SubjectOption, extractor: ClaimExtractor
) -> tuple[str, list[str]]:
    """The candidate's kind and how the clause names it, whatever the type: its origin, the
    words right around it (被, 的, "of", "by"), first in the clause, its maker or its own model
    named beside it, the shape of an unknown name (once per candidate of a clause)."""
    key = f"context:{option.origin}:{option.mention.start}:{option.mention.name}"
    known = unit.derived.get(key)
    if known is not None:
        return known  # type: ignore[return-value]
    mention = option.mention
    kind = option_kind(mention, extractor)
    features = [f"⟨origin:{option.origin}⟩", f"⟨kind:{kind}⟩"]
    if mention.entity_id is None:
        features += subject_name_features(mention.name)
    if option.origin != "carried":
        named = [m for m in unit.mentions if m.type is not EntityType.PERSON]
        if named and named[0].start == mention.start:
            features.append("⟨first-named⟩")
        if mention.start <= 2:
            features.append("⟨clause-start⟩")
        sentence = unit.sentence
        if unit.lang is Language.ZH:
            before = sentence[max(0, mention.start - 2) : mention.start]
            after = sentence[mention.end : mention.end + 2]
            features += [
                f"⟨left:{before[-1:]}⟩",
                f"⟨left2:{before}⟩",
                f"⟨right:{after[:1]}⟩",
                f"⟨right2:{after}⟩",
            ]
        else:
            left = WORD.findall(sentence[max(0, mention.start - 24) : mention.start])[-2:]
            right = WORD.findall(sentence[mention.end : mention.end + 24])[:2]
            features += [f"⟨left:{w}⟩" for w in left[-1:]] + [f"⟨right:{w}⟩" for w in right[:1]]
            features += [f"⟨left2:{' '.join(left)}⟩", f"⟨right2:{' '.join(right)}⟩"]
        if mention.entity_id is not None:
            developer = extractor.kb.developer_of(mention.entity_id)
            others = [m for m in named if m.entity_id is not None and m.entity_id != mention.entity_id]
            if any(developer is not None and m.entity_id == developer.id for m in others):
                features.append("⟨maker-named⟩")
            if mention.type is EntityType.ORG and any(
                extractor.kb.same_party(m.entity_id, mention.entity_id) and m.type is EntityType.MODEL
                for m in others
            ):
                features.append("⟨own-model-named⟩")
    unit.derived[key] = (kind, features)
    return kind, features


def option_kind(mention: Mention, extractor: ClaimExtractor) -> str:
    """The kind of a candidate subject: a source model or vendor (api-model, open-model), a known
    model, organisation, a known person's organisation, or an unknown name by its shape."""
    if mention.entity_id is not None:
        role = mention_role(mention, extractor)
        return role.strip("⟨⟩")
    name = mention.name
    if NAMELIKE.search(name):
        return "unknown-namelike"
    if name.endswith(("模型", "大模型", "AI", "助手", "团队", "團隊", "公司", "科技")):
        return "unknown-product"
    return f"unknown-word{min(len(name), 5)}"


def lede_tokens(
    folded: str, sentences: list[tuple[int, int]], mentions: list[Mention], extractor: ClaimExtractor
) -> list[str]:
    """The relevance classifier's input: the document's first sentence (its title, when it has
    one), at most LEDE_CHARS characters, folded, names replaced by their roles. One sentence, as
    long as a training example: a bag of words over a whole article would count far more words
    than any example had."""
    end = min(sentences[0][1] if sentences else len(folded), LEDE_CHARS)
    lang = Language.ZH if CJK.search(folded[:end]) else Language.EN
    tokens: list[str] = []
    position = 0
    for mention in mentions:
        if mention.start >= end:
            break
        if mention.start < position:
            continue
        tokens.extend(_words(folded[position : mention.start], lang))
        tokens.append(mention_role(mention, extractor))
        position = mention.end
    tokens.extend(_words(folded[position:end], lang))
    return tokens


def _words(text: str, lang: Language) -> list[str]:
    if lang is Language.ZH:
        # The characters that are not whitespace (str.split splits on what str.isspace calls space).
        return list("".join(text.split()))
    return WORD.findall(text)


def unit_features(unit: ClaimUnit, extractor: ClaimExtractor) -> list[str]:
    """What the rules read in the clause, as tokens."""
    known = unit.derived.get("features")
    if known is not None:
        return known  # type: ignore[return-value]
    cues = unit.cues
    features = [f"⟨cue:{h.type.value}:{h.strength}⟩" for h in cues.hits]
    features += [f"⟨says:{s.value}⟩" for s in cues.stances]
    if cues.negations:
        features.append("⟨negation⟩")
    for flag in ("history", "third_party", "analysis", "cleared", "silent"):
        if getattr(cues, flag):
            features.append(f"⟨{flag}⟩")
    features.append("⟨speaker⟩" if unit.name_span is not None else "⟨no-speaker⟩")
    if unit.name_span is not None:
        # Who speaks, in their words (网友, researchers, a spokesperson, 公司官方).
        start, end = unit.name_span
        features += [f"⟨speaker:{w}⟩" for w in _words(unit.sentence[start:end], unit.lang)[-4:]]
    features += [f"⟨rule:{f.claim.type.value}⟩" for f in unit.rule_claims]
    features += [f"⟨rule:{f.claim.type.value}:{f.claim.stance.value}⟩" for f in unit.rule_claims]
    if not unit.rule_claims:
        features.append("⟨rule:none⟩")
    features = list(dict.fromkeys(features))  # a cue repeated is no stronger evidence
    unit.derived["features"] = features
    return features


def type_bucket(p: float) -> str:
    return "low" if p < 0.2 else "some" if p < 0.5 else "likely" if p < 0.8 else "high"


def claim_features(found: FoundClaim, unit: ClaimUnit, extractor: ClaimExtractor, p_type: float) -> list[str]:
    """What the rules read about one candidate claim: its type, their stance, the speaker's party,
    what kind of name the subject and the object are; crossed with the type, since a linear model
    cannot combine them itself (套壳 of an API model is api_wrapper, of an open model llama_based)."""
    claim = found.claim
    t = claim.type.value
    obj = object_kind(claim.object, extractor)
    subject = subject_kind(found, extractor)
    party = found.party or "none"
    strengths = {h.strength for h in unit.cues.hits if h.type is claim.type} or {"none"}
    features = [
        f"⟨type:{t}⟩",
        f"⟨rule-stance:{claim.stance.value}⟩",
        f"⟨party:{party}⟩",
        f"⟨subject:{subject}⟩",
        f"⟨object:{obj}⟩",
        f"⟨{t}|rule-stance:{claim.stance.value}⟩",
        f"⟨{t}|object:{obj}⟩",
        f"⟨{t}|party:{party}⟩",
        f"⟨{t}|subject:{subject}⟩",
        *(f"⟨{t}|cue:{strength}⟩" for strength in sorted(strengths)),
        *(f"⟨{t}|says:{s.value}⟩" for s in unit.cues.stances),
        f"⟨{t}|rules:{'yes' if any(f.claim.type is claim.type for f in unit.rule_claims) else 'no'}⟩",
        f"⟨p-type:{type_bucket(p_type)}⟩",
        f"⟨{t}|p-type:{type_bucket(p_type)}⟩",
    ]
    # Who says it and what they say, together: a denial word from the accused is a denial, from a
    # third party it reports one; a negation from the accused denies, from an analyst clears.
    features += [f"⟨party:{party}|says:{s.value}⟩" for s in unit.cues.stances]
    features += [f"⟨{t}|party:{party}|says:{s.value}⟩" for s in unit.cues.stances]
    if claim.subject is None:
        features += subject_name_features(claim.subject_name)
    if found.negated:
        features.append(f"⟨party:{party}|negated⟩")
        features += ["⟨negated⟩", f"⟨{t}|negated⟩", f"⟨{t}|negated|party:{party}⟩"]
    if found.carried_subject:
        features += ["⟨carried⟩", f"⟨{t}|carried⟩"]
    return features


@lru_cache(maxsize=4096)  # names repeat across the clauses and types of a batch
def subject_name_features(name: str) -> tuple[str, ...]:
    """The shape of a subject the knowledge base does not know: a product name (Orion-72B,
    灵枢大模型, WriteGenie) or a word a name pattern caught by mistake (技术, 捷径, "Using")."""
    shape = re.sub(
        r"[A-Z]+", "X", re.sub(r"[a-z]+", "x", re.sub(r"\d+", "9", re.sub(r"[\u4e00-\u9fff]", "字", name)))
    )
    features = [f"⟨subject-shape:{shape[:8]}⟩", f"⟨subject-end:{name[-1:]}⟩", f"⟨subject-start:{name[:1]}⟩"]
    if len(name) > 1:
        features.append(f"⟨subject-end:{name[-2:]}⟩")
    return tuple(features)


def object_kind(entity_id: str | None, extractor: ClaimExtractor) -> str:
    if entity_id is None:
        return "none"
    developer = extractor.kb.developer_of(entity_id)
    ids = {entity_id, developer.id if developer is not None else entity_id}
    if ids & extractor.lex.api_sources:
        return "api"
    if ids & extractor.lex.open_sources:
        return "open"
    return "other"


def subject_kind(found: FoundClaim, extractor: ClaimExtractor) -> str:
    """A party (a model, product or organisation, known to the knowledge base or not: whether it is
    known says nothing of the stance), an API vendor's model (GPT-4, Claude: rarely the subject),
    or an unknown name that looks like a plain word (技术). An open model is a party: Yi-34B and
    DeepSeek-V3 are sources of others and accused themselves."""
    claim = found.claim
    if claim.subject is not None:
        return "source" if object_kind(claim.subject, extractor) == "api" else "party"
    name = claim.subject_name
    if NAMELIKE.search(name) or name.endswith(("模型", "大模型", "AI", "助手", "团队", "團隊", "公司")):
        return "party"
    return f"unknown-word{min(len(name), 5)}"


class StringIds(dict):
    """spaCy's string id of each token, computed once per token."""

    def __missing__(self, token: str) -> int:
        orth = self[token] = get_string_id(token)
        return orth


@dataclass
class LanguageModel:
    """The two classifiers of one language. Prediction skips spaCy `Doc`s: building a `Doc` per
    clause costs more than the classifiers themselves, so the tokens are hashed here (with a cache:
    characters and words repeat) into the same n-gram keys spaCy's `extract_ngrams` makes, and go
    straight to the trained linear layer."""

    nlp: SpacyLanguage
    type_labels: list[ClaimType]
    claim_labels: list[str]  # the five stances and "none"
    subject_labels: list[str] = field(default_factory=lambda: list(SUBJECT_LABELS))
    _ids: StringIds = field(default_factory=StringIds, repr=False)

    def type_scores(self, token_lists: list[list[str]]) -> list[dict[ClaimType, float]]:
        # tolist(): Python floats for a whole array at once, the same values as float() of each.
        scores = self._predict(TYPE_PIPE, token_lists).tolist()
        return [dict(zip(self.type_labels, row, strict=True)) for row in scores]

    def relevance_scores(self, token_lists: list[list[str]]) -> list[float]:
        """P(relevant) of each document's lede."""
        if not self.nlp.has_pipe(RELEVANCE_PIPE):
            return [0.5] * len(token_lists)
        index = list(self.nlp.get_pipe(RELEVANCE_PIPE).labels).index("relevant")
        scores = [float(row[index]) for row in self._predict(RELEVANCE_PIPE, token_lists)]
        # A lede of punctuation or symbols only ("!!!???") says nothing either way.
        return [
            p if any(map(HAS_WORD.search, tokens)) else 0.5
            for p, tokens in zip(scores, token_lists, strict=True)
        ]

    def subject_scores(self, token_lists: list[list[str]]) -> list[float]:
        """P(the candidate is the subject) of each (clause, type, candidate) input."""
        index = self.subject_labels.index("subject")
        return [row[index] for row in self._predict(SUBJECT_PIPE, token_lists).tolist()]

    def claim_scores(self, token_lists: list[list[str]]) -> list[dict[str, float]]:
        scores = self._predict(CLAIM_PIPE, token_lists).tolist()
        return [dict(zip(self.claim_labels, row, strict=True)) for row in scores]

    def _predict(self, pipe: str, token_lists: list[list[str]]):  # noqa: ANN202 - a numpy array
        # A batch's subject candidates run to tens of thousands of inputs: in chunks, the n-gram
        # arrays stay small.
        if len(token_lists) > PREDICT_CHUNK:
            return numpy.concatenate(
                [
                    self._predict(pipe, token_lists[start : start + PREDICT_CHUNK])
                    for start in range(0, len(token_lists), PREDICT_CHUNK)
                ]
            )
        # TextCatBOW: with_cpu(extract_ngrams >> sparse_linear) >> with_cpu(activation). The linear
        # layer sums weight × count per key, so repeated keys need no counting (numpy.unique).
        model = self.nlp.get_pipe(pipe).model
        extract, linear = model.layers[0].layers[0].layers
        orth_of = self._ids.__getitem__
        orths: list[int] = []
        lengths: list[int] = []
        for tokens in token_lists:
            tokens = tokens or ["⟨empty⟩"]
            lengths.append(len(tokens))
            orths.extend(map(orth_of, tokens))
        unigrams = numpy.asarray(orths, dtype="uint64")
        row_of = numpy.repeat(numpy.arange(len(token_lists), dtype="int32"), lengths)
        keys, key_rows = [unigrams], [row_of]
        for n in range(2, extract.attrs["ngram_size"] + 1):
            grams = extract.ops.ngrams(n, unigrams)
            inside = row_of[: len(grams)] == row_of[n - 1 :]  # no n-gram across two clauses
            keys.append(grams[inside])
            key_rows.append(row_of[: len(grams)][inside])
        key_rows_all = numpy.concatenate(key_rows)
        order = numpy.argsort(key_rows_all, kind="stable")
        features = (
            numpy.concatenate(keys)[order],
            numpy.ones(len(order), dtype="f"),
            numpy.bincount(key_rows_all, minlength=len(token_lists)).astype("int32"),
        )
        return model.layers[1].predict(linear.predict(features))


class ClaimClassifier:
    """The trained type and stance classifiers of both languages, and the decision over units."""

    def __init__(
        self, models: dict[Language, LanguageModel], threshold: float, no_claim: float, meta: dict
    ) -> None:
        self.models = models
        self.threshold = threshold  # a type at least this probable is a candidate claim
        self.cue_gate = float(meta.get("cue_gate", 0.0))  # a cued type this probable is one too
        self.no_claim = no_claim  # a candidate at least this likely to be no claim is dropped
        # Each stance's probability is weighed by this before the likeliest is chosen (1 when absent).
        self.stance_weights: dict[str, float] = dict(meta.get("stance_weights", {}))
        self.meta = meta

    @classmethod
    def load(cls, directory: Path = MODEL_DIR) -> ClaimClassifier:
        if not (directory / "meta.json").is_file():
            raise FileNotFoundError(
                f"no claim classifier in {directory}: run `make train-nlp` (shellwatch train-nlp)"
            )
        meta = json.loads((directory / "meta.json").read_text(encoding="utf-8"))
        models = {}
        for language in Language:
            nlp = spacy.load(directory / language.value)
            models[language] = LanguageModel(
                nlp=nlp,
                type_labels=[ClaimType(label) for label in nlp.get_pipe(TYPE_PIPE).labels],
                claim_labels=list(nlp.get_pipe(CLAIM_PIPE).labels),
                subject_labels=list(nlp.get_pipe(SUBJECT_PIPE).labels),
            )
        return cls(models, float(meta["threshold"]), float(meta["no_claim"]), meta)

    def decide(
        self,
        units: list[ClaimUnit],
        extractor: ClaimExtractor,
        wanted: Callable[[ClaimUnit], bool] | None = None,
    ) -> list[list[FoundClaim]]:
        """The claims of each unit (in order), all units classified in one batch per language:
        the types of each clause, the subject of each (clause, type) among the clause's parties,
        then the stance (or no claim) of each (subject, type). `wanted`: see `decisions`."""
        decided: list[list[FoundClaim]] = [
            list(unit.rule_claims) if len(unit.sentence) > MAX_CLAUSE_CHARS else [] for unit in units
        ]
        for decision in self.decisions(units, extractor, wanted):
            claim = decision.claim(units[decision.unit].index)
            if claim is not None:
                decided[decision.unit].append(claim)
        for i, claims in enumerate(decided):
            # With a named mechanism in the clause, a self_developed claim stays only as the party's
            # own positive statement (the labelling rule of tests/data/nlp/README.md).
            if len({c.claim.type for c in claims}) > 1:
                decided[i] = [
                    c
                    for c in claims
                    if c.claim.type is not ClaimType.SELF_DEVELOPED or c.claim.stance is Stance.SELF_CLAIM
                ]
        return decided

    def decisions(
        self,
        units: list[ClaimUnit],
        extractor: ClaimExtractor,
        wanted: Callable[[ClaimUnit], bool] | None = None,
    ) -> list[Decision]:
        """Every candidate (clause, type) of the units and what each stage made of it: its type
        probability, the subject chosen, the stance scores (bench/nlp_quality.py --stages reads
        them to tell where a claim was lost). Clauses longer than MAX_CLAUSE_CHARS have none, nor
        those with candidate types that `wanted` rejects (whose claims the caller would drop)."""
        type_scores: list[dict[ClaimType, float]] = [{} for _ in units]
        tokens = [unit_tokens(unit, extractor) for unit in units]
        for language, model in self.models.items():
            indexes = [i for i, unit in enumerate(units) if unit.lang is language]
            if indexes:
                for i, scores in zip(indexes, model.type_scores([tokens[i] for i in indexes]), strict=True):
                    type_scores[i] = scores
        # Candidate (clause, type) pairs: the types the clause's cues or the type classifier
        # suggest; the rules' own types.
        pairs: list[tuple[int, ClaimType]] = []
        for i, unit in enumerate(units):
            if len(unit.sentence) > MAX_CLAUSE_CHARS:
                # Longer than any clause the classifier learnt from (a page without full stops):
                # the rules decide.
                continue
            types = self.candidate_types(unit, type_scores[i])
            if types and (wanted is None or wanted(unit)):
                pairs.extend((i, t) for t in types)
        choices = choose_subjects(self.models, units, pairs, extractor)
        decisions = [
            Decision(
                i,
                claim_type,
                type_scores[i].get(claim_type, 0.0),
                choice,
                self.no_claim,
                weights=self.stance_weights,
            )
            for (i, claim_type), choice in zip(pairs, choices, strict=True)
        ]
        for language, model in self.models.items():
            picked = [d for d in decisions if d.choice.found is not None and units[d.unit].lang is language]
            if not picked:
                continue
            inputs = [
                claim_tokens(units[d.unit], d.choice.found, extractor, d.p_type, d.choice) for d in picked
            ]
            for decision, scores in zip(picked, model.claim_scores(inputs), strict=True):
                decision.stances = scores
                decision.cleared = units[decision.unit].cues.cleared and decision.choice.found.party != "self"
        return decisions

    def candidate_types(self, unit: ClaimUnit, scores: dict[ClaimType, float]) -> list[ClaimType]:
        """The types a clause may claim: the rules' own, the ones its cues name when the type
        classifier finds them at least `cue_gate` likely, any at least `threshold` likely."""
        ruled = {f.claim.type for f in unit.rule_claims}
        cued = {t for t in candidate_types(unit) if scores.get(t, 0.0) >= self.cue_gate}
        proposed = {t for t, p in scores.items() if p >= self.threshold}
        return sorted(ruled | cued | proposed, key=TYPE_ORDER.__getitem__)


@dataclass
class Decision:
    """One candidate (clause, type): the unit's index in the batch, the type's probability, the
    subject chosen, and the claim classifier's scores of the five stances and "none" (empty when
    no claim can be made about any party)."""

    unit: int
    claim_type: ClaimType
    p_type: float
    choice: SubjectChoice
    no_claim: float
    stances: dict[str, float] = field(default_factory=dict)
    # Someone other than the subject's party clears it ("no evidence that …", "没有证据"): by the
    # labelling rules that is analysis, never an allegation, whatever the words around it say.
    cleared: bool = False
    weights: dict[str, float] = field(default_factory=dict)  # ClaimClassifier.stance_weights

    @property
    def stance(self) -> str | None:
        """The stance decided, or None: no claim (at least `no_claim` likely to be none)."""
        if not self.stances or self.stances[NO_CLAIM] >= self.no_claim:
            return None
        stance = max(
            (s for s in self.stances if s != NO_CLAIM),
            key=lambda s: self.stances[s] * self.weights.get(s, 1.0),
        )
        if self.cleared and stance == Stance.ALLEGATION.value:
            return Stance.ANALYSIS.value
        return stance

    def claim(self, sentence: int) -> FoundClaim | None:
        """The claim decided, found in clause number `sentence`, or None."""
        stance = self.stance
        found = self.choice.found
        if stance is None or found is None:
            return None
        # A cleared allegation: as sure an analysis as the model was that a claim is made.
        p = (
            max(self.stances[stance], self.stances[Stance.ALLEGATION.value])
            if self.cleared
            else self.stances[stance]
        )
        claim = found.claim.model_copy(
            update={"stance": Stance(stance), "confidence": round(min(0.99, max(0.01, p)), 2)}
        )
        return FoundClaim(
            claim=claim,
            sentence=sentence,
            carried_subject=found.carried_subject,
            party=found.party,
            negated=found.negated,
        )


@dataclass
class SubjectChoice:
    """The subject chosen for a (clause, type): the option, its probability (1.0 when it was the
    only one), and the claim the rules read about it (None when none can be made)."""

    options: list[SubjectOption]
    scores: list[float]
    best: int | None
    found: FoundClaim | None

    @property
    def option(self) -> SubjectOption | None:
        return self.options[self.best] if self.best is not None else None

    def features(self) -> list[str]:
        """The claim classifier's view of the choice: how the subject is named, how sure it was."""
        if self.best is None:
            return ["⟨subject-choice:none⟩"]
        p = self.scores[self.best]
        sure = "only" if len(self.options) == 1 else type_bucket(p)
        return [f"⟨subject-origin:{self.options[self.best].origin}⟩", f"⟨subject-choice:{sure}⟩"]


def option_key(mention: Mention) -> tuple[str | None, str]:
    return (mention.entity_id, mention.name if mention.entity_id is None else "")


def subject_inputs(
    unit: ClaimUnit, claim_type: ClaimType, options: list[SubjectOption], extractor: ClaimExtractor
) -> tuple[list[list[str]], FoundClaim | None]:
    """The subject classifier's input for each option of a (clause, type), and the rules' own
    claim of that type (whose subject is one of the options' features)."""
    ruled = extractor.unit_claim(unit, claim_type)
    rule_subject = (
        (ruled.claim.subject, ruled.claim.subject_name if ruled.claim.subject is None else "")
        if ruled
        else None
    )
    hit, rule_object = extractor.type_target(unit, claim_type)
    # What does not depend on the type, once per clause (and list of options): the kinds named
    # beside a carried subject, and each option's marked tokens.
    cached = unit.derived.get("option-inputs")
    if cached is None or cached[0] is not options:  # type: ignore[index]
        pieces = clause_pieces(unit, extractor)
        cached = unit.derived["option-inputs"] = (
            options,
            frozenset(option_context(unit, o, extractor)[0] for o in options if o.origin != "carried"),
            [marked_tokens(unit, option, extractor, pieces) for option in options],
        )
    _, beside, marked = cached  # type: ignore[misc]
    inputs = [
        subject_features(
            unit, option, claim_type, extractor, rule_subject, len(options), rule_object, beside, hit=hit
        )
        + tokens
        for option, tokens in zip(options, marked, strict=True)
    ]
    return inputs, ruled


def choose_subjects(
    models: dict[Language, LanguageModel],
    units: list[ClaimUnit],
    pairs: list[tuple[int, ClaimType]],
    extractor: ClaimExtractor,
) -> list[SubjectChoice]:
    """The subject of each (clause, type) pair: the option the subject classifier finds likeliest
    (all pairs of a language in one batch); the claim about it, read by the rules."""
    options_of: dict[int, list[SubjectOption]] = {}
    choices: list[SubjectChoice] = []
    rows: dict[Language, list[list[str]]] = {language: [] for language in Language}
    spans: list[tuple[Language, int, int, FoundClaim | None]] = []
    for i, claim_type in pairs:
        unit = units[i]
        if i not in options_of:
            options_of[i] = extractor.subject_options(unit)
        options = options_of[i]
        if len(options) > 1:
            inputs, ruled = subject_inputs(unit, claim_type, options, extractor)
            start = len(rows[unit.lang])
            rows[unit.lang].extend(inputs)
            spans.append((unit.lang, start, len(rows[unit.lang]), ruled))
        else:
            spans.append((unit.lang, 0, 0, None))
    scored = {
        language: model.subject_scores(rows[language]) if rows[language] else []
        for language, model in models.items()
    }
    for (i, claim_type), (language, start, end, ruled) in zip(pairs, spans, strict=True):
        options = options_of[i]
        scores = scored[language][start:end] if end > start else [1.0] * len(options)
        rule_key = (
            (ruled.claim.subject, ruled.claim.subject_name if ruled.claim.subject is None else "")
            if ruled is not None and not ruled.carried_subject
            else None
        )
        best, found = None, None
        # The likeliest option of which a claim can be made: none is made about the source's own
        # party ("Baidu" when the object is ERNIE Bot), so the next one is the subject then.
        for index in sorted(range(len(options)), key=lambda k: -scores[k]):
            option = options[index]
            if option.origin != "carried" and option_key(option.mention) == rule_key:
                found = ruled
            else:
                found = extractor.unit_claim(units[i], claim_type, option)
            if found is not None:
                best = index
                break
        choices.append(SubjectChoice(options, scores, best, found))
    return choices


def candidate_types(unit: ClaimUnit) -> set[ClaimType]:
    """The types the clause's cues name: a generic cue (套壳, "wrapper") may be any of three."""
    types = {found.claim.type for found in unit.rule_claims}
    for hit in unit.cues.hits:
        if hit.strength == "generic":
            types |= {ClaimType.SELF_DEVELOPED, ClaimType.API_WRAPPER, ClaimType.LLAMA_BASED}
        else:
            types.add(hit.type)
    return types


def unit_tokens(unit: ClaimUnit, extractor: ClaimExtractor) -> list[str]:
    """The type classifier's input for a clause."""
    return unit_features(unit, extractor) + text_tokens(unit, extractor)


def claim_tokens(
    unit: ClaimUnit, found: FoundClaim, extractor: ClaimExtractor, p_type: float, choice: SubjectChoice
) -> list[str]:
    """The claim classifier's input for one candidate claim of a clause (`p_type`: the type
    classifier's probability of its type; `choice`: how its subject was chosen). The clause's
    words with the subject marked ⟨subj⟩ whatever it is: the stance is in who says what about
    it, not in whether the knowledge base knows it."""
    assert choice.option is not None
    return (
        claim_features(found, unit, extractor, p_type)
        + choice.features()
        + unit_features(unit, extractor)
        + marked_tokens(unit, choice.option, extractor)
    )
