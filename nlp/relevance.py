"""Article relevance: the probability that an article is about a wrapper controversy.

A small logistic model over counts the extractor already has (claims, allegations, topic cues,
linked entities) and the trained classifier's probability that the first sentence (the title) is
about provenance (nlp/classifier.py); its weights are data (nlp/data/relevance.yaml), fitted on the
development set by `bench/nlp_quality.py --fit-relevance` and checked on the held-apart split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from nlp.claims import CueSet
from shellwatch.domain import Claim, Stance

RELEVANCE_FILE = Path(__file__).resolve().parent / "data" / "relevance.yaml"
FEATURES = ("claims", "allegations", "topic", "confident", "entities", "text")


@dataclass
class RelevanceModel:
    bias: float
    weights: dict[str, float]
    threshold: float
    topic: CueSet

    @classmethod
    def load(cls, path: Path = RELEVANCE_FILE) -> RelevanceModel:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        missing = [name for name in FEATURES if name not in data["weights"]]
        if missing:
            raise ValueError(f"{path}: weights missing for {missing}")
        return cls(
            bias=float(data["bias"]),
            weights={name: float(data["weights"][name]) for name in FEATURES},
            threshold=float(data["threshold"]),
            topic=CueSet([("topic", p) for p in data["topic"]], source=str(path)),
        )

    def features(
        self, folded: str, claims: list[Claim], linked_entities: int, text: float | None = None
    ) -> dict[str, float]:
        """`text`: the trained classifier's probability that the title and lede are about
        provenance (nlp/classifier.py); 0.5, no opinion, without a classifier."""
        reported = claims
        topic_hits = min(len(self.topic.finditer(folded)), 6)
        return {
            "claims": float(min(len(reported), 4)),
            "allegations": float(min(sum(c.stance is Stance.ALLEGATION for c in claims), 3)),
            "topic": float(topic_hits),
            "confident": 1.0 if any(c.confidence >= 0.7 for c in reported) else 0.0,
            "entities": float(min(linked_entities, 5)),
            "text": 0.5 if text is None else text,
        }

    def probability(self, features: dict[str, float]) -> float:
        score = self.bias + sum(self.weights[name] * features[name] for name in FEATURES)
        return 1.0 / (1.0 + math.exp(-score))
