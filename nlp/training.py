"""Training the claim classifier (nlp/classifier.py) from the labelled examples.

    shellwatch train-nlp            # rebuilds nlp/data/models/claims from TRAINING_FILES

Reads labelled JSONL (tests/data/nlp/README.md): every tests/data/nlp/train-*.jsonl
(dev.jsonl is kept out, for choosing the settings and reporting; heldout.jsonl is never read here).
Each example goes through the rules-only pipeline; its candidate clauses (`ClaimUnit`s) are the
training units. A gold claim is given to the clause that fits it best (the rules' claim of its type
and subject there, a cue of its type, its speaker or subject written there).

- The type classifier learns the set of gold types per clause.
- The subject classifier learns, for each gold claim given to a clause that names more than one
  party, which of the clause's parties (`ClaimExtractor.subject_options`) it is about.
- The claim classifier learns, for each candidate claim of a clause (the types its cues name, the
  types the type classifier proposes, the gold types), about the subject the subject classifier
  chooses, the gold stance, or "none" when the example states no such claim about that subject;
  when the choice misses a gold subject the clause names, the claim about the right one too. Its
  type probabilities and subject choices come from classifiers trained on the other half of the
  examples (two folds), as they will be on new text.
- The relevance classifier learns each example's `relevant` from its first sentence.

Training is deterministic (fixed seed and order, CPU; about ten seconds). The model directory's
meta.json records the SHA-256 of the data files it was trained on; tests/nlp/test_classifier.py
fails when the data changed and the model was not retrained.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import spacy
from spacy.tokens import Doc
from spacy.training import Example
from spacy.util import fix_random_seed, minibatch

from nlp.claims import ClaimExtractor, ClaimUnit, SubjectOption
from nlp.classifier import (
    CLAIM_PIPE,
    MODEL_DIR,
    NO_CLAIM,
    RELEVANCE_LABELS,
    RELEVANCE_PIPE,
    SUBJECT_LABELS,
    SUBJECT_PIPE,
    TYPE_PIPE,
    ClaimClassifier,
    LanguageModel,
    SubjectChoice,
    candidate_types,
    choose_subjects,
    claim_tokens,
    lede_tokens,
    subject_inputs,
    unit_tokens,
)
from nlp.knowledge_base import KnowledgeBase, name_key
from shellwatch.domain import ClaimType, Language, Stance

DATA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "nlp"
TRAINING_FILES = tuple(sorted(DATA_DIR.glob("train-*.jsonl")))
SEED = 13
FOLDS = 2
CLAIM_LABELS = [*(s.value for s in Stance), NO_CLAIM]


@dataclass
class Settings:
    """The training hyper-parameters (recorded in meta.json), chosen on dev.jsonl: a small learning
    rate and few epochs keep the linear models from memorising the training texts' n-grams (more
    epochs or a higher rate lost on --cv too). The decision thresholds below are chosen by --cv."""

    epochs: int = 15
    batch_size: int = 16
    dropout: float = 0.1
    learn_rate: float = 0.0005
    # The decision thresholds, chosen by cross-validation (bench/nlp_quality.py --cv: 0.3 and 0.15
    # found 80 more claims than 0.4 and 0.25, at 0.60 instead of 0.63 precision).
    threshold: float = 0.3  # a type this probable is a candidate claim even without its cue
    cue_gate: float = 0.15  # a type a cue names is a candidate claim when this probable (or the rules' own)
    no_claim: float = 0.7  # a candidate claim this likely to be no claim is dropped
    # The claim classifier reads too many candidates as allegations (cross-validation's commonest
    # confusions are analysis, self_claim, denial and admission decided as allegation): its
    # allegation probability is weighed by this when the likeliest stance is chosen.
    stance_weights: dict[str, float] = field(default_factory=lambda: {"allegation": 0.6})
    # The types the claim classifier learns from besides the cued and gold ones: those this
    # probable. Learning from the `threshold` ones too (more "none" examples) gained nothing on
    # --cv and lost 0.016 on dev.
    training_threshold: float = 0.4
    hash_length: int = 2**15
    ngrams: dict[str, int] = field(default_factory=lambda: {"zh": 2, "en": 2})
    # The order the examples are shown in (and dropout's draws). Another seed is another model of
    # the same data: bench/nlp_quality.py --cv --seeds N measures how much that alone moves.
    seed: int = SEED


def load_examples(paths: Iterable[Path]) -> list[dict]:
    examples = []
    for path in paths:
        with Path(path).open(encoding="utf-8") as handle:
            examples.extend(json.loads(line) for line in handle if line.strip())
    return examples


def data_hash(paths: Iterable[Path]) -> dict[str, str]:
    """SHA-256 of each training file, by file name."""
    return {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


@dataclass
class Unit:
    """A training clause: the rules' reading and the gold claims given to it, by type."""

    unit: ClaimUnit
    gold: dict[ClaimType, dict]
    fold: int
    example_claims: list[dict]


@dataclass
class TrainingSet:
    units: list[Unit]
    relevance_docs: dict[Language, list[tuple[list[str], dict[str, float]]]]
    claim_docs: dict[Language, list[tuple[list[str], dict[str, float]]]] = field(default_factory=dict)
    subject_docs: dict[Language, list[tuple[list[str], dict[str, float]]]] = field(default_factory=dict)
    aligned: int = 0
    unreachable: int = 0

    def type_docs(self, language: Language, extractor: ClaimExtractor, fold: int | None = None) -> list:
        return [
            (unit_tokens(u.unit, extractor), {t.value: float(t in u.gold) for t in ClaimType})
            for u in self.units
            if u.unit.lang is language and (fold is None or u.fold != fold)
        ]


def option_fits(gold: dict, option: SubjectOption) -> bool:
    """Whether a subject option is the gold claim's subject (its entity, or its unknown name)."""
    return _subject_fits(gold, option.mention.entity_id, option.mention.name)


def _subject_fits(gold: dict, subject: str | None, subject_name: str) -> bool:
    if gold["subject"] is not None:
        return subject == gold["subject"]
    a, b = name_key(gold["subject_name"]), name_key(subject_name)
    return subject is None and bool(a and b) and (a in b or b in a)


def _fit(gold: dict, unit: ClaimUnit, extractor: ClaimExtractor) -> int:
    claim_type = ClaimType(gold["type"])
    score = 0
    if any(option_fits(gold, option) for option in extractor.subject_options(unit)):
        score += 3
    for found in unit.rule_claims:
        if found.claim.type is claim_type and _subject_fits(
            gold, found.claim.subject, found.claim.subject_name
        ):
            score += 4
    if any(hit.type is claim_type for hit in unit.cues.hits):
        score += 2
    if gold.get("speaker") and gold["speaker"] in unit.original:
        score += 1
    if gold.get("subject_name") and gold["subject_name"] in unit.original:
        score += 1
    if Stance(gold["stance"]) in unit.cues.stances:
        score += 1
    return score


def training_units(examples: list[dict], pipelines: dict, extractor: ClaimExtractor) -> TrainingSet:
    """The candidate clauses of the labelled examples, each with the gold claims that fit it best."""
    result = TrainingSet(units=[], relevance_docs={language: [] for language in Language})
    for number, example in enumerate(examples):
        language = Language(example["language"])
        doc = pipelines[language](example["text"])
        tokens = lede_tokens(doc._.sw_folded, doc._.sw_sentences, doc._.sw_mentions or [], extractor)
        cats = {"relevant": float(example["relevant"]), "irrelevant": float(not example["relevant"])}
        result.relevance_docs[language].append((tokens, cats))
        units: list[ClaimUnit] = doc._.sw_units
        if not units:
            result.unreachable += len(example["claims"])
            continue
        given: dict[int, dict[ClaimType, dict]] = {i: {} for i in range(len(units))}
        for gold in example["claims"]:
            best = max(range(len(units)), key=lambda i: (_fit(gold, units[i], extractor), -i))
            given[best].setdefault(ClaimType(gold["type"]), gold)
            result.aligned += 1
        result.units.extend(
            Unit(unit, given[i], number % FOLDS, example["claims"]) for i, unit in enumerate(units)
        )
    return result


def subject_docs(data: TrainingSet, extractor: ClaimExtractor, fold: int | None = None) -> dict:
    """The subject classifier's training documents: for each gold claim given to a clause that
    names more than one party, every party of the clause, "subject" when the claim is about it."""
    docs: dict[Language, list] = {language: [] for language in Language}
    for item in data.units:
        if fold is not None and item.fold == fold:
            continue
        unit = item.unit
        options = extractor.subject_options(unit)
        if len(options) < 2:
            continue
        for claim_type, gold in item.gold.items():
            fits = [option_fits(gold, option) for option in options]
            if not any(fits):
                continue  # the subject is no party the clause names: nothing to choose
            inputs, _ = subject_inputs(unit, claim_type, options, extractor)
            for tokens, fit in zip(inputs, fits, strict=True):
                docs[unit.lang].append((tokens, {"subject": float(fit), "other": float(not fit)}))
    return docs


def claim_pairs(data: TrainingSet, type_scores: list[dict[ClaimType, float]], threshold: float) -> list:
    """The (unit index, type) pairs a claim decision is trained on: the clause's cue types, the
    types the type classifier proposes, the gold types."""
    pairs = []
    for index, (item, scores) in enumerate(zip(data.units, type_scores, strict=True)):
        proposed = {t for t, p in scores.items() if p >= threshold}
        types = candidate_types(item.unit) | proposed | set(item.gold)
        pairs.extend((index, t) for t in sorted(types, key=list(ClaimType).index))
    return pairs


def claim_docs(
    data: TrainingSet,
    extractor: ClaimExtractor,
    type_scores: list[dict[ClaimType, float]],
    pairs: list[tuple[int, ClaimType]],
    choices: list[SubjectChoice],
) -> dict:
    """The claim classifier's training documents: each candidate (clause, type) about the subject
    the subject classifier chose, labelled with its gold stance or "none"; when the choice missed
    a gold subject the clause names, the claim about the right one as well."""
    docs: dict[Language, list] = {language: [] for language in Language}
    for (index, claim_type), choice in zip(pairs, choices, strict=True):
        item = data.units[index]
        unit = item.unit
        p_type = type_scores[index].get(claim_type, 0.0)
        gold = item.gold.get(claim_type)
        found = choice.found
        right = None
        if gold is not None:
            right = next((i for i, o in enumerate(choice.options) if option_fits(gold, o)), None)
        if found is not None:
            claim = found.claim
            # A claim the example states in another clause too is no "no claim" here (claims of a
            # text merge per subject, type and stance).
            elsewhere = [
                g
                for g in item.example_claims
                if g["type"] == claim_type.value and _subject_fits(g, claim.subject, claim.subject_name)
            ]
            if gold is not None and _subject_fits(gold, claim.subject, claim.subject_name):
                label = gold["stance"]
            elif elsewhere:
                label = elsewhere[0]["stance"]
            else:
                # No claim of this type in the example, or the right type about the wrong party
                # (then the claim about the right one follows below).
                label = NO_CLAIM
            docs[unit.lang].append((claim_tokens(unit, found, extractor, p_type, choice), _cats(label)))
            if label != NO_CLAIM or right is None:
                continue
        if right is not None and gold is not None:
            fixed = SubjectChoice(choice.options, choice.scores, right, None)
            found = extractor.unit_claim(unit, claim_type, choice.options[right])
            if found is not None and _subject_fits(gold, found.claim.subject, found.claim.subject_name):
                docs[unit.lang].append(
                    (claim_tokens(unit, found, extractor, p_type, fixed), _cats(gold["stance"]))
                )
    return docs


def _cats(label: str) -> dict[str, float]:
    return {name: float(name == label) for name in CLAIM_LABELS}


def train(
    examples: list[dict], kb: KnowledgeBase, settings: Settings | None = None
) -> tuple[ClaimClassifier, TrainingSet]:
    """A classifier trained on `examples` (in memory; `save` writes it). The claim classifier
    learns from type probabilities the type classifier gives clauses it was not trained on
    (two folds), as it will see them on new text."""
    from nlp.pipeline import Analyzer

    settings = settings or Settings()
    analyzer = Analyzer(kb, classifier=None)
    extractor = analyzer.resources.claims
    extractor.propose_unlikely_names = True
    data = training_units(examples, analyzer.pipelines, extractor)
    type_scores: list[dict[ClaimType, float]] = [{} for _ in data.units]
    for language in Language:
        for fold in range(FOLDS):
            nlp = _type_model(language, data.type_docs(language, extractor, fold), settings)
            model = LanguageModel(nlp, [ClaimType(x) for x in nlp.get_pipe(TYPE_PIPE).labels], [])
            indexes = [i for i, u in enumerate(data.units) if u.unit.lang is language and u.fold == fold]
            inputs = [unit_tokens(data.units[i].unit, extractor) for i in indexes]
            for i, scores in zip(indexes, model.type_scores(inputs) if inputs else [], strict=True):
                type_scores[i] = scores
    # The claim classifier learns from subjects chosen by subject classifiers trained on the
    # other fold, as it will see them on new text.
    pairs = claim_pairs(data, type_scores, settings.training_threshold)
    choices: list[SubjectChoice | None] = [None] * len(pairs)
    units = [u.unit for u in data.units]
    for fold in range(FOLDS):
        fold_docs = subject_docs(data, extractor, fold)
        fold_models = {
            language: _subject_model(language, fold_docs[language], settings) for language in Language
        }
        picked = [k for k, (index, _) in enumerate(pairs) if data.units[index].fold == fold]
        for k, choice in zip(
            picked, choose_subjects(fold_models, units, [pairs[k] for k in picked], extractor), strict=True
        ):
            choices[k] = choice
    data.claim_docs = claim_docs(data, extractor, type_scores, pairs, choices)
    data.subject_docs = subject_docs(data, extractor)
    models = {}
    for language in Language:
        nlp = _type_model(language, data.type_docs(language, extractor), settings)
        _train_pipe(
            nlp,
            "textcat",
            SUBJECT_PIPE,
            SUBJECT_LABELS,
            True,
            data.subject_docs[language],
            language,
            settings,
        )
        _train_pipe(
            nlp, "textcat", CLAIM_PIPE, CLAIM_LABELS, True, data.claim_docs[language], language, settings
        )
        _train_pipe(
            nlp,
            "textcat",
            RELEVANCE_PIPE,
            RELEVANCE_LABELS,
            True,
            data.relevance_docs[language],
            language,
            settings,
        )
        models[language] = LanguageModel(
            nlp=nlp,
            type_labels=[ClaimType(label) for label in nlp.get_pipe(TYPE_PIPE).labels],
            claim_labels=list(nlp.get_pipe(CLAIM_PIPE).labels),
            subject_labels=list(nlp.get_pipe(SUBJECT_PIPE).labels),
        )
    meta = {
        "threshold": settings.threshold,
        "no_claim": settings.no_claim,
        "cue_gate": settings.cue_gate,
        "stance_weights": settings.stance_weights,
    }
    return ClaimClassifier(models, settings.threshold, settings.no_claim, meta), data


def _subject_model(language: Language, items: list, settings: Settings) -> LanguageModel:
    nlp = spacy.blank(language.value)
    _train_pipe(nlp, "textcat", SUBJECT_PIPE, SUBJECT_LABELS, True, items, language, settings)
    return LanguageModel(nlp, [], [], list(nlp.get_pipe(SUBJECT_PIPE).labels))


def _type_model(language: Language, items: list, settings: Settings):
    nlp = spacy.blank(language.value)
    labels = [t.value for t in ClaimType]
    _train_pipe(nlp, "textcat_multilabel", TYPE_PIPE, labels, False, items, language, settings)
    return nlp


def _bow(exclusive: bool, ngrams: int, length: int) -> dict:
    return {
        "@architectures": "spacy.TextCatBOW.v3",
        "exclusive_classes": exclusive,
        "ngram_size": ngrams,
        "no_output_layer": False,
        "length": length,
    }


def _train_pipe(
    nlp,
    factory: str,
    name: str,
    labels: list[str],
    exclusive: bool,
    items: list[tuple[list[str], dict[str, float]]],
    language: Language,
    settings: Settings,
) -> None:
    """Add a bag-of-words text classifier to `nlp` and train it on `items` (tokens, cats)."""
    if not items:
        raise ValueError(f"no {language.value} training examples for {name}")
    fix_random_seed(settings.seed)
    config = {"model": _bow(exclusive, settings.ngrams[language.value], settings.hash_length)}
    component = nlp.add_pipe(factory, name=name, config=config)
    for label in labels:
        component.add_label(label)
    examples = []
    for tokens, cats in items:
        doc = Doc(nlp.vocab, words=tokens or ["⟨empty⟩"])
        reference = doc.copy()
        reference.cats = cats
        examples.append(Example(doc, reference))
    component.initialize(lambda: examples, nlp=nlp)
    optimizer = nlp.create_optimizer()
    optimizer.learn_rate = settings.learn_rate
    rng = random.Random(settings.seed)
    for _ in range(settings.epochs):
        order = list(examples)
        rng.shuffle(order)
        for batch in minibatch(order, size=settings.batch_size):
            component.update(batch, sgd=optimizer, drop=settings.dropout)


def save(classifier: ClaimClassifier, directory: Path, meta: dict) -> None:
    """Write the model directory: one spaCy pipeline per language and meta.json."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for language, model in classifier.models.items():
        model.nlp.to_disk(directory / language.value)
    (directory / "meta.json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def counts(data: TrainingSet) -> dict:
    return {
        language.value: {
            "units": sum(1 for u in data.units if u.unit.lang is language),
            "units_with_claims": sum(1 for u in data.units if u.unit.lang is language and u.gold),
            "candidate_claims": dict(
                Counter(max(cats, key=cats.get) for _, cats in data.claim_docs[language]).most_common()
            ),
        }
        for language in Language
    }


def rebuild(kb: KnowledgeBase, files: Iterable[Path] = TRAINING_FILES, directory: Path = MODEL_DIR) -> dict:
    """Retrain from `files` and write the shipped model; returns its meta."""
    files = list(files)
    settings = Settings()
    classifier, data = train(load_examples(files), kb, settings)
    meta = {
        **classifier.meta,  # the decision settings
        "data_sha256": data_hash(files),
        "seed": settings.seed,
        "settings": {k: v for k, v in vars(settings).items()},
        "spacy": spacy.__version__,
        "training": counts(data) | {"aligned_claims": data.aligned, "unreachable_claims": data.unreachable},
    }
    save(classifier, directory, meta)
    return meta
