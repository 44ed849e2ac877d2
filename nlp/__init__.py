"""The NLP stage: entities, provenance claims, relevance and event dates of an article.

from nlp import load_analyzer
analyzer = load_analyzer(settings)
analysis = analyzer.analyze_article(article)   # -> shellwatch.domain.Analysis
"""

from nlp.knowledge_base import KnowledgeBase, KnowledgeBaseError, load_knowledge_base
from nlp.pipeline import Analyzer, load_analyzer

__all__ = ["Analyzer", "KnowledgeBase", "KnowledgeBaseError", "load_analyzer", "load_knowledge_base"]
