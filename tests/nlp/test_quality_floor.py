"""The labelled development set and the demo newsroom must not regress below today's level."""

from __future__ import annotations

import importlib.util
import sys

from shellwatch.config import PACKAGE_ROOT


def load_bench():
    spec = importlib.util.spec_from_file_location("nlp_quality", PACKAGE_ROOT / "bench" / "nlp_quality.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_dev_set_floor(analyzer, kb):
    bench = load_bench()
    scores = bench.run(analyzer, "dev", None, {e.id: e.type.value for e in kb})
    type_f1 = scores.types.macro_f1([t for t in bench.ClaimType])
    stance_f1 = scores.stances.macro_f1([s for s in bench.Stance])
    # Floors a little under today's figures (see BENCHMARKS.md): a regression fails the suite.
    assert scores.entities.micro()[2] >= 0.99
    assert scores.relevance.macro_f1(["relevant", "irrelevant"]) >= 0.95
    assert type_f1 >= 0.765
    assert stance_f1 >= 0.68


def test_demo_newsroom_floor(analyzer, kb):
    """What users of the demo see: of the claims shown for the newsroom's articles, the share that
    the newsroom's ground truth (demo/expected.yaml) lists. It was 0.15 (28 of 191) before the
    trained claim classifier, 0.31 (25 of 80) before the trained subject choice, 0.33 (25 of 75)
    with it, 0.39 (32 of 82; recall 0.67) after the rules' coverage round of session 4, 0.41 (28
    of 69; recall 0.58) after session 5's precision rules. The recall floor leaves room for the
    noise of a retrain: retraining on the same examples after small changes to what the rules
    read moved the demo between 26 and 32 right claims of 48 in session 5 while cross-validation
    on 3,226 claims moved by a dozen."""
    bench = load_bench()
    scores = bench.run(analyzer, "demo", None, {e.id: e.type.value for e in kb})
    precision, recall, _ = scores.stances.micro()
    assert precision >= 0.38
    assert recall >= 0.54
    assert scores.relevance.macro_f1(["relevant", "irrelevant"]) >= 0.92


def test_every_missed_dev_claim_is_placed_at_one_stage(analyzer, kb):
    """bench/nlp_quality.py --stages: the stages account for exactly the claims the analysis
    misses (examples analysed one at a time there, in batches here)."""
    bench = load_bench()
    dev = bench.load_split("dev")
    counts = bench.lost_stages(kb, analyzer.resources.classifier, dev)
    scores = bench.run(analyzer, "dev", None, {e.id: e.type.value for e in kb})
    placed = sum(n for (_, stage), n in counts.items() if stage in bench.STAGES)
    assert placed == sum(scores.stances.fn.values())
    assert sum(n for (_, stage), n in counts.items() if stage == "gold") == sum(len(e["claims"]) for e in dev)


def test_a_claim_the_claim_model_drops_is_lost_at_its_stage(analyzer, kb):
    bench = load_bench()
    example = {
        "text": "The Verge reported that Foo-34B is a thin wrapper around the OpenAI API.",
        "language": "en",
        "claims": [
            {"subject": None, "subject_name": "Foo-34B", "type": "api_wrapper", "stance": "allegation"}
        ],
    }
    classifier = analyzer.resources.classifier
    assert bench.lost_stages(kb, classifier, [example]) == {("en", "gold"): 1}
    # A classifier that finds every candidate unlikely to be a claim loses it at "e".
    doubtful = bench.ClaimClassifier(classifier.models, classifier.threshold, 0.0, classifier.meta)
    assert bench.lost_stages(kb, doubtful, [example]) == {("en", "gold"): 1, ("en", "e"): 1}
    # Asked for another stance, the same claim is lost at "f".
    denied = {**example, "claims": [{**example["claims"][0], "stance": "denial"}]}
    assert bench.lost_stages(kb, classifier, [denied]) == {("en", "gold"): 1, ("en", "f"): 1}
