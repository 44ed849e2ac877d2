"""Validates the NLP knowledge base and the labelled dev / held-apart sets (fast, no pipeline).

Files: nlp/data/knowledge_base.yaml, tests/data/nlp/{dev,heldout}.jsonl and the training splits
tests/data/nlp/train-*.jsonl; rules in tests/data/nlp/README.md.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path

import jsonschema
import opencc
import pytest
import yaml

from shellwatch.domain import ClaimType, Entity, EntityType, Language, Stance

ROOT = Path(__file__).resolve().parents[2]
KB_PATH = ROOT / "nlp" / "data" / "knowledge_base.yaml"
DATA = ROOT / "tests" / "data" / "nlp"
EVALUATION_SPLITS = ("dev", "heldout")
# Training splits, one file per language so they can grow independently (train-en, train-zh).
TRAIN_SPLITS = tuple(sorted(p.stem for p in DATA.glob("train-*.jsonl")))
# Sentence shapes the training files lack, scored apart (bench/nlp_quality.py --split shapes).
SHAPES_SPLITS = tuple(sorted(p.stem for p in DATA.glob("shapes-*.jsonl")))
SPLITS = EVALUATION_SPLITS + TRAIN_SPLITS + SHAPES_SPLITS
SCRIPTS = {"hans": Language.ZH, "hant": Language.ZH, "latin": Language.EN}
ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_T2S = opencc.OpenCC("t2s")

EXAMPLE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "text", "language", "script", "relevant", "entities", "claims"],
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "text": {"type": "string", "minLength": 1},
        "language": {"enum": [lang.value for lang in Language]},
        "script": {"enum": list(SCRIPTS)},
        "relevant": {"type": "boolean"},
        "entities": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "claims": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["subject", "subject_name", "object", "type", "stance", "speaker"],
                "properties": {
                    "subject": {"type": ["string", "null"]},
                    "subject_name": {"type": "string", "minLength": 1},
                    "object": {"type": ["string", "null"]},
                    "type": {"enum": [t.value for t in ClaimType]},
                    "stance": {"enum": [s.value for s in Stance]},
                    "speaker": {"type": ["string", "null"], "minLength": 1},
                },
            },
        },
    },
}


def fold(s: str) -> str:
    """Case-, width- and script-insensitive key (the matching the NLP stage promises)."""
    return _T2S.convert(unicodedata.normalize("NFKC", s)).casefold().strip()


@cache
def kb() -> dict[str, Entity]:
    raw = yaml.safe_load(KB_PATH.read_text(encoding="utf-8"))
    entities = [Entity.model_validate(item) for item in raw["entities"]]
    return {e.id: e for e in entities}


@cache
def load(split: str) -> tuple[dict, ...]:
    lines = (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


# ---------------------------------------------------------------- knowledge base


def test_kb_items_have_exactly_the_entity_fields() -> None:
    raw = yaml.safe_load(KB_PATH.read_text(encoding="utf-8"))
    assert set(raw) == {"entities"}
    fields = set(Entity.model_fields)
    for item in raw["entities"]:
        assert set(item) == fields, item.get("id")


def test_kb_loads_with_unique_stable_ids() -> None:
    raw = yaml.safe_load(KB_PATH.read_text(encoding="utf-8"))["entities"]
    ids = [item["id"] for item in raw]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert all(ID_RE.fullmatch(i) for i in ids), [i for i in ids if not ID_RE.fullmatch(i)]
    assert len(kb()) >= 150
    counts = Counter(e.type for e in kb().values())
    assert all(counts[t] >= 20 for t in EntityType), counts


def test_kb_developers_exist_and_every_model_has_one() -> None:
    for e in kb().values():
        if e.type is EntityType.MODEL:
            assert e.developer, f"model {e.id} has no developer"
        if e.developer is not None:
            assert e.developer in kb(), f"{e.id}: unknown developer {e.developer}"
            assert kb()[e.developer].type is EntityType.ORG, f"{e.id}: developer {e.developer} is not an org"
        if e.type is EntityType.ORG and e.developer is not None:
            assert kb()[e.developer].type is EntityType.ORG  # a subsidiary points at its parent


def test_kb_names_are_unambiguous_across_entities() -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for e in kb().values():
        assert e.name.strip() and e.description, e.id
        for surface in (e.name, *e.names_zh, *e.aliases):
            assert surface == surface.strip() and surface, f"{e.id}: blank or padded name {surface!r}"
            owners[fold(surface)].add(e.id)
    shared = {k: sorted(v) for k, v in owners.items() if len(v) > 1}
    assert shared == {}


def test_kb_chinese_names_have_both_scripts() -> None:
    """Every simplified name whose characters differ by script also has its traditional form.

    Traditional-only names (Taiwan usage such as 輝達, 史丹佛, 位元組跳動) need no simplified twin.
    """
    s2t = opencc.OpenCC("s2t")
    for e in kb().values():
        for name in e.names_zh:
            if _T2S.convert(name) == name and s2t.convert(name) != name:
                assert any(n != name and _T2S.convert(n) == name for n in e.names_zh), (
                    f"{e.id}: no traditional form of {name}"
                )


# ---------------------------------------------------------------- labelled sets


@pytest.mark.parametrize("split", SPLITS)
def test_examples_match_the_schema_and_vocabulary(split: str) -> None:
    examples = load(split)
    ids = [ex["id"] for ex in examples]
    assert len(ids) == len(set(ids))
    for ex in examples:
        jsonschema.validate(ex, EXAMPLE_SCHEMA)
        assert ex["id"].startswith(f"{split}-")
        assert SCRIPTS[ex["script"]].value == ex["language"], ex["id"]
        for claim in ex["claims"]:
            ClaimType(claim["type"])
            Stance(claim["stance"])


@pytest.mark.parametrize("split", SPLITS)
def test_labels_refer_to_the_knowledge_base_and_the_text(split: str) -> None:
    for ex in load(split):
        where = ex["id"]
        for entity in ex["entities"]:
            assert entity in kb(), f"{where}: unknown entity {entity}"
        if not ex["relevant"]:
            assert ex["claims"] == [], f"{where}: an irrelevant example has claims"
        for claim in ex["claims"]:
            for role in ("subject", "object"):
                if claim[role] is not None:
                    assert claim[role] in kb(), f"{where}: unknown {role} {claim[role]}"
                    assert claim[role] in ex["entities"], f"{where}: {role} {claim[role]} not in entities"
            assert claim["subject_name"] in ex["text"], f"{where}: subject_name not quoted from the text"
            if claim["speaker"] is not None:
                assert claim["speaker"] in ex["text"], f"{where}: speaker not quoted from the text"
        keys = [(c["subject"], c["subject_name"], c["object"], c["type"], c["stance"]) for c in ex["claims"]]
        assert len(keys) == len(set(keys)), f"{where}: duplicate claim"
        stances = defaultdict(set)
        for c in ex["claims"]:
            stances[(c["subject"] or c["subject_name"], c["type"])].add(c["stance"])
        for key, found in stances.items():
            assert not {"admission", "denial"} <= found, f"{where}: {key} both admitted and denied"


@pytest.mark.parametrize("split", SPLITS)
def test_script_label_matches_the_text(split: str) -> None:
    s2t = opencc.OpenCC("s2t")
    for ex in load(split):
        han = "".join(ch for ch in ex["text"] if "\u4e00" <= ch <= "\u9fff")
        if ex["script"] == "latin":
            assert not han, ex["id"]
            continue
        assert han, ex["id"]
        # characters that only exist in the other script (OpenCC is not exact: 昇→升, 台→臺, 群→羣)
        traditional_only = sum(a != b for a, b in zip(han, _T2S.convert(han), strict=True))
        simplified_only = sum(a != b for a, b in zip(han, s2t.convert(han), strict=True))
        if ex["script"] == "hans":
            assert traditional_only <= min(1, simplified_only), f"{ex['id']}: traditional text labelled hans"
        else:
            assert traditional_only > simplified_only, f"{ex['id']}: simplified text labelled hant"


@pytest.mark.parametrize("split", EVALUATION_SPLITS)
def test_each_split_covers_every_type_stance_and_script(split: str) -> None:
    examples = load(split)
    claims = [c for ex in examples for c in ex["claims"]]
    assert {c["type"] for c in claims} == {t.value for t in ClaimType}
    assert {c["stance"] for c in claims} == {s.value for s in Stance}
    assert {ex["script"] for ex in examples if ex["claims"]} == set(SCRIPTS)
    assert {ex["script"] for ex in examples if not ex["relevant"]} == set(SCRIPTS)
    assert sum(not ex["relevant"] for ex in examples) >= 25
    assert any(c["subject"] is None for c in claims), "no unknown-model subjects"
    assert any(ex["relevant"] and not ex["claims"] for ex in examples), "no relevant-without-claim examples"


@pytest.mark.parametrize("split", TRAIN_SPLITS + SHAPES_SPLITS)
def test_training_splits_cover_every_type_and_stance(split: str) -> None:
    claims = [c for ex in load(split) for c in ex["claims"]]
    assert {c["type"] for c in claims} == {t.value for t in ClaimType}
    assert {c["stance"] for c in claims} == {s.value for s in Stance}
    assert sum(not ex["relevant"] for ex in load(split)) >= 25


def test_minimum_sizes() -> None:
    claims = {s: sum(len(ex["claims"]) for ex in load(s)) for s in SPLITS}
    assert claims["dev"] + claims["heldout"] >= 300, claims
    assert claims["dev"] >= 180 and claims["heldout"] >= 100, claims
    negatives = sum(not ex["relevant"] for s in SPLITS for ex in load(s))
    assert negatives >= 60


def test_no_text_shared_between_splits() -> None:
    def key(text: str) -> str:
        return re.sub(r"\W+", "", fold(text))

    seen: dict[str, str] = {}
    for split in SPLITS:
        for ex in load(split):
            other = seen.setdefault(key(ex["text"]), split)
            assert other == split, f"{ex['id']} repeats a text of {other}"
    for split in SPLITS:
        keys = Counter(key(ex["text"]) for ex in load(split))
        assert [k for k, n in keys.items() if n > 1] == [], f"duplicate text within {split}"
