"""The Celery entry point: `celery -A workers.app worker|beat|flower`, configured from the environment."""

from __future__ import annotations

from shellwatch.config import load_settings
from workers.application import create_app

app = create_app(load_settings())
