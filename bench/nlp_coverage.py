"""Coverage of the claim rules: which gold claims the trained classifier can possibly get right.

    .venv/bin/python bench/nlp_coverage.py              # train-*.jsonl + dev.jsonl, rates per group
    .venv/bin/python bench/nlp_coverage.py --show 10    # and 10 sample misses per level
    .venv/bin/python bench/nlp_coverage.py --json       # the overall rates only

The classifier (nlp/classifier.py) decides only among the candidate clauses the rules find
(`ClaimUnit`s) and the parties they offer (`ClaimExtractor.subject_options`), and it takes the
object and speaker from the rules' reading. For every gold claim of the labelled training files
and dev (never the held-apart split), in the rules-only pipeline as training runs it:

- unit: some candidate clause names the claim's subject or speaker (an option fits the subject,
  or the clause contains the subject's or the speaker's written name);
- subject: the gold subject is among the subject options of some clause (reachable);
- type cue: such a clause also carries a cue that names the gold type (`candidate_types`: the
  rules propose it; without one only the type classifier's own probability can);
- object, speaker, rule stance: in the clause that fits the claim best (as training aligns it),
  the rules' claim of the gold type about the gold subject has the gold object, the gold speaker
  (folded, one containing the other), the gold stance. Rates are over all claims: a claim whose
  subject is unreachable counts as missed at every later level.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.claims import ClaimExtractor, ClaimUnit, SubjectOption  # noqa: E402
from nlp.classifier import candidate_types  # noqa: E402
from nlp.knowledge_base import load_knowledge_base, name_key  # noqa: E402
from nlp.pipeline import Analyzer  # noqa: E402
from nlp.training import option_fits  # noqa: E402
from shellwatch.domain import ClaimType, Language, Stance  # noqa: E402

DATA = ROOT / "tests" / "data" / "nlp"
FILES = (*sorted(DATA.glob("train-*.jsonl")), DATA / "dev.jsonl")
LEVELS = ("unit", "subject", "type cue", "object", "speaker", "rule stance")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", type=int, default=0, help="sample misses printed per level")
    parser.add_argument("--json", action="store_true", help="print the overall rates as JSON")
    parser.add_argument("--data", action="append", type=Path, help="labelled files (default: train + dev)")
    args = parser.parse_args(argv)
    files = args.data or list(FILES)
    if any(path.name == "heldout.jsonl" for path in files):
        parser.error("the held-apart split is never measured for tuning")
    kb = load_knowledge_base(ROOT / "nlp" / "data" / "knowledge_base.yaml")
    analyzer = Analyzer(kb, classifier=None)
    extractor = analyzer.resources.claims
    rows = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            example = json.loads(line)
            doc = analyzer.pipelines[Language(example["language"])](example["text"])
            units: list[ClaimUnit] = doc._.sw_units or []
            for gold in example["claims"]:
                rows.append((example, gold, claim_coverage(gold, units, extractor)))
    groups = {
        "script": lambda example, gold: example["script"],
        "type": lambda example, gold: gold["type"],
        "stance": lambda example, gold: gold["stance"],
    }
    overall = rates([levels for _, _, levels in rows])
    if args.json:
        print(json.dumps({"claims": len(rows), **{k: round(v, 3) for k, v in overall.items()}}, indent=2))
        return 0
    print(f"{len(rows)} gold claims in {', '.join(p.name for p in files)}\n")
    print("| group | claims | " + " | ".join(LEVELS) + " |")
    print("|---|---|" + "---|" * len(LEVELS))
    print(row("**all**", len(rows), overall))
    for name, key in groups.items():
        grouped: dict[str, list[dict]] = defaultdict(list)
        for example, gold, levels in rows:
            grouped[key(example, gold)].append(levels)
        for value in sorted(grouped):
            print(row(f"{name}={value}", len(grouped[value]), rates(grouped[value])))
    if args.show:
        show_misses(rows, args.show)
    return 0


def claim_coverage(gold: dict, units: list[ClaimUnit], extractor: ClaimExtractor) -> dict:
    """Which levels of reach the rules give one gold claim (see the module docstring), and under
    "read" the rules' claim about the gold subject in its best clause (None: none)."""
    levels: dict = dict.fromkeys(LEVELS, False) | {"read": None}
    claim_type = ClaimType(gold["type"])
    fitting: list[tuple[int, ClaimUnit, SubjectOption]] = []
    for unit in units:
        options = [o for o in extractor.subject_options(unit) if option_fits(gold, o)]
        if options or names_party(gold, unit.original):
            levels["unit"] = True
        if options:
            fitting.append((fit(gold, unit), unit, options[0]))
    if not fitting:
        return levels
    levels["subject"] = True
    levels["type cue"] = any(claim_type in candidate_types(u) for _, u, _ in fitting)
    _, unit, option = max(fitting, key=lambda item: item[0])
    found = extractor.unit_claim(unit, claim_type, option)
    if found is None:
        return levels
    claim = levels["read"] = found.claim
    levels["object"] = claim.object == gold["object"]
    levels["speaker"] = same_speaker(gold["speaker"], claim.speaker)
    levels["rule stance"] = claim.stance is Stance(gold["stance"])
    return levels


def names_party(gold: dict, text: str) -> bool:
    return any(name and name in text for name in (gold["subject_name"], gold["speaker"]))


def fit(gold: dict, unit: ClaimUnit) -> int:
    """How well a clause that offers the gold subject carries the claim (as training aligns it)."""
    score = 2 * any(h.type.value == gold["type"] for h in unit.cues.hits)
    score += bool(gold["speaker"] and gold["speaker"] in unit.original)
    score += bool(gold["subject_name"] and gold["subject_name"] in unit.original)
    return score + (Stance(gold["stance"]) in unit.cues.stances)


def same_speaker(gold: str | None, read: str | None) -> bool:
    if gold is None or read is None:
        return gold is read
    a, b = name_key(gold), name_key(read)
    return bool(a and b) and (a in b or b in a)


def rates(levels: list[dict]) -> dict[str, float]:
    return {level: sum(item[level] for item in levels) / len(levels) for level in LEVELS}


def row(label: str, count: int, values: dict[str, float]) -> str:
    return f"| {label} | {count} | " + " | ".join(f"{values[level]:.2f}" for level in LEVELS) + " |"


def show_misses(rows: list, count: int) -> None:
    """The first misses at each level: a clause missed, a subject missed where a clause names
    the party, and the later levels where the subject is reachable (with what the rules read)."""
    needs = {"unit": None, "subject": "unit"} | dict.fromkeys(LEVELS[2:], "subject")
    for level, needed in needs.items():
        missed = [
            (example, gold, levels)
            for example, gold, levels in rows
            if not levels[level] and (needed is None or levels[needed])
        ]
        print(f"\n## misses at {level}: {len(missed)}\n")
        for example, gold, levels in missed[:count]:
            print(f"- {example['id']}: {example['text'][:220]!r}")
            print(
                f"  gold {gold['subject'] or gold['subject_name']!r} {gold['type']} {gold['stance']} "
                f"obj={gold['object']} spk={gold['speaker']!r}"
            )
            if levels["read"] is not None:
                read = levels["read"]
                print(f"  read obj={read.object} spk={read.speaker!r} stance={read.stance.value}")


if __name__ == "__main__":
    raise SystemExit(main())
