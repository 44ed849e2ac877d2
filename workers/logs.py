"""Structured log lines (`event=… article_id=… key=value`) for every stage the workers run.

Celery's own lines get the task name, task id and article id of the running task through
`TaskContextFilter`, so `grep article_id=<id>` follows one article through every process.
"""

from __future__ import annotations

import logging
import re

from celery import current_task

_ARTICLE_ID = re.compile(r"'article_id': '([^']*)'")

LOG_FORMAT = (
    "%(asctime)s level=%(levelname)s logger=%(name)s process=%(processName)s "
    "task=%(task_name)s task_id=%(task_id)s article_id=%(article_id)s %(message)s"
)


def task_kwargsrepr(**ids: str) -> str:
    """What logs and Flower show of a task's arguments: its ids, not the whole article."""
    return repr(ids)


def kv(event: str, **fields: object) -> str:
    """`event=stored article_id=abc duration_ms=12`; values with spaces or quotes are quoted."""
    parts = [f"event={event}"]
    for key, value in fields.items():
        if value is None:
            continue
        text = str(value)
        if not text or any(ch in text for ch in ' "=\n\t'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


class TaskContextFilter(logging.Filter):
    """Adds task_name, task_id and article_id (from the running task's kwargs, else '-')."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = current_task
        request = getattr(task, "request", None) if task else None
        kwargs = (getattr(request, "kwargs", None) or {}) if request else {}
        record.task_name = getattr(task, "name", None) or "-"
        record.task_id = getattr(request, "id", None) or "-"
        record.article_id = kwargs.get("article_id") or "-"
        data = getattr(record, "data", None)
        if not task and isinstance(data, dict):  # the main process's "received" lines
            record.task_name = data.get("name") or "-"
            record.task_id = data.get("id") or "-"
            found = _ARTICLE_ID.search(str(data.get("kwargs") or ""))
            record.article_id = found.group(1) if found else "-"
        return True


def install_task_context(logger: logging.Logger) -> None:
    """Give every handler of `logger` the structured format with the task context."""
    for handler in logger.handlers:
        handler.addFilter(TaskContextFilter())
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
