"""Counts for the NLP labelled sets; prints the Markdown tables in tests/data/nlp/README.md.

Run: .venv/bin/python tests/data/nlp/stats.py   (paste the output into the README's "Counts" section)
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
KB = HERE.parents[2] / "nlp" / "data" / "knowledge_base.yaml"
SPLITS = ("dev", "heldout")
TYPES = [
    "self_developed",
    "llama_based",
    "api_distilled",
    "api_wrapper",
    "prompt_wrapper",
    "rag_wrapper",
    "fine_tuned",
]
STANCES = ["allegation", "denial", "admission", "self_claim", "analysis"]
SCRIPTS = ["latin", "hans", "hant"]


def load(split: str) -> list[dict]:
    with open(HERE / f"{split}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def table(header: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def main() -> None:
    data = {s: load(s) for s in SPLITS}
    claims = {s: [(e, c) for e in data[s] for c in e["claims"]] for s in SPLITS}

    kb = yaml.safe_load(KB.read_text(encoding="utf-8"))["entities"]
    by_type = Counter(e["type"] for e in kb)
    print("### Knowledge base\n")
    print(
        table(
            ["org", "model", "person", "total"],
            [[by_type["org"], by_type["model"], by_type["person"], len(kb)]],
        )
    )

    print("\n### Examples\n")
    rows = []
    for s in SPLITS:
        ex = data[s]
        sc = Counter(e["script"] for e in ex)
        rel = sum(e["relevant"] for e in ex)
        no_claim_rel = sum(e["relevant"] and not e["claims"] for e in ex)
        rows.append([s, len(ex), rel, len(ex) - rel, no_claim_rel, *(sc[x] for x in SCRIPTS), len(claims[s])])
    print(
        table(
            [
                "split",
                "examples",
                "relevant",
                "negatives (relevant=false)",
                "relevant, no claim",
                "en (latin)",
                "zh-hans",
                "zh-hant",
                "claims",
            ],
            rows,
        )
    )

    print("\n### Claims by type\n")
    rows = [
        [
            t,
            *(sum(c["type"] == t for _, c in claims[s]) for s in SPLITS),
            sum(c["type"] == t for s in SPLITS for _, c in claims[s]),
        ]
        for t in TYPES
    ]
    rows.append(["**total**", *(len(claims[s]) for s in SPLITS), sum(len(claims[s]) for s in SPLITS)])
    print(table(["type", *SPLITS, "total"], rows))

    print("\n### Claims by stance\n")
    rows = [
        [
            st,
            *(sum(c["stance"] == st for _, c in claims[s]) for s in SPLITS),
            sum(c["stance"] == st for s in SPLITS for _, c in claims[s]),
        ]
        for st in STANCES
    ]
    print(table(["stance", *SPLITS, "total"], rows))

    print("\n### Claims by language / script\n")
    rows = [[x, *(sum(e["script"] == x for e, _ in claims[s]) for s in SPLITS)] for x in SCRIPTS]
    print(table(["script", *SPLITS], rows))

    for s in SPLITS:
        print(f"\n### Type x stance, {s}\n")
        m = Counter((c["type"], c["stance"]) for _, c in claims[s])
        print(table(["type", *STANCES], [[t, *(m[(t, st)] for st in STANCES)] for t in TYPES]))

    print("\n### Other\n")
    rows = []
    for s in SPLITS:
        cl = [c for _, c in claims[s]]
        rows.append(
            [
                s,
                sum(c["subject"] is None for c in cl),
                sum(c["object"] is not None for c in cl),
                sum(c["speaker"] is not None for c in cl),
                sum(len(e["claims"]) > 1 for e in data[s]),
                len({x for e in data[s] for x in e["entities"]}),
            ]
        )
    print(
        table(
            [
                "split",
                "claims with unlinked subject (null)",
                "claims with object",
                "claims with speaker",
                "examples with >1 claim",
                "distinct KB entities mentioned",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
