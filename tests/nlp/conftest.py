"""One analyzer over the real knowledge base for the whole nlp test package (it takes ~1 s to build)."""

from __future__ import annotations

import pytest

from nlp.knowledge_base import load_knowledge_base
from nlp.pipeline import Analyzer
from shellwatch.config import PACKAGE_ROOT


@pytest.fixture(scope="session")
def kb():
    return load_knowledge_base(PACKAGE_ROOT / "nlp" / "data" / "knowledge_base.yaml")


@pytest.fixture(scope="session")
def analyzer(kb):
    return Analyzer(kb)
