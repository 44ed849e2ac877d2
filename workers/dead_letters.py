"""Dead letters: list them, and re-run them (`shellwatch dead-letters [--retry ID|all]`).

A dead letter keeps the task name and the JSON keyword arguments the task received. Re-running
sends the same task to the broker again (multi-service mode) or runs its step in this process
(embedded mode). The letter is removed first and written again, with the new error, if the task
fails again, so a re-run never leaves a stale letter nor loses one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from search.results import DeadLetter
from shellwatch.config import Settings
from shellwatch.domain import Article, from_json
from workers import periodic
from workers.application import (
    DELIVER_ALERT,
    PROCESS_ARTICLE,
    WRITE_MONTHLY_DIGESTS,
)
from workers.context import ProcessContext, process_context
from workers.handoff import HandOff, process_in_process
from workers.logs import kv, task_kwargsrepr
from workers.reliability import make_dead_letter

log = logging.getLogger(__name__)


class UnknownDeadLetter(LookupError):
    pass


@dataclass
class RetryResult:
    letter_id: str
    task: str
    outcome: str  # "queued", "processed", "failed again: …"


def list_dead_letters(settings: Settings) -> list[DeadLetter]:
    return process_context(settings).store.list_dead_letters()


def retry_dead_letters(settings: Settings, letter_ids: list[str]) -> list[RetryResult]:
    """Re-run the named dead letters ("all" for every one)."""
    context = process_context(settings)
    letters = {letter.id: letter for letter in context.store.list_dead_letters()}
    if "all" in letter_ids:
        chosen = list(letters.values())
    else:
        missing = [letter_id for letter_id in letter_ids if letter_id not in letters]
        if missing:
            raise UnknownDeadLetter(f"no dead letter with id {', '.join(missing)}")
        chosen = [letters[letter_id] for letter_id in letter_ids]
    return [_retry(context, letter) for letter in chosen]


def _retry(context: ProcessContext, letter: DeadLetter) -> RetryResult:
    context.store.delete_dead_letter(letter.id)
    try:
        kwargs = json.loads(letter.payload)
        if context.settings.embedded:
            outcome = _run_here(context, letter.task, kwargs)
        else:
            ids = {key: str(value) for key, value in kwargs.items() if key.endswith("_id")}
            context.celery.send_task(letter.task, kwargs=kwargs, kwargsrepr=task_kwargsrepr(**ids))
            outcome = "queued"
    except Exception as exc:  # noqa: BLE001 - keep the letter, with the new error
        again = make_dead_letter(letter.task, letter.id, letter.payload, exc, letter.attempts + 1)
        context.store.add_dead_letter(again.model_copy(update={"id": letter.id}))
        outcome = f"failed again: {type(exc).__name__}: {exc}"
    log.info(kv("dead_letter.retried", dead_letter_id=letter.id, task=letter.task, outcome=outcome))
    return RetryResult(letter.id, letter.task, outcome)


def _run_here(context: ProcessContext, task: str, kwargs: dict) -> str:
    """Embedded mode: the step the task would have run, in this process."""
    if task == PROCESS_ARTICLE:
        outcome = process_in_process(context, from_json(Article, kwargs["article"]))
        return outcome.value if outcome is not HandOff.DEAD_LETTERED else "failed again (dead-lettered)"
    if task == DELIVER_ALERT:
        periodic.deliver_one(context, kwargs["alert"])
        return "processed"
    if task == WRITE_MONTHLY_DIGESTS:
        periodic.write_monthly_digests(context, kwargs.get("month"))
        return "processed"
    raise ValueError(f"cannot re-run task {task!r} in embedded mode")
