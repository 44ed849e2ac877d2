"""The Celery application, configured from the settings: broker, queues, routes, reliability.

Three queues keep slow work from holding up fast work: `crawl` (fetching sources, flushing the
spool), `analysis` (analyse, store, incidents, alert planning) and `delivery` (webhooks, e-mail,
digests). Messages are JSON only. Tasks are acknowledged after they finish
(`task_acks_late`), so a worker that dies mid-task leaves its message to be redelivered: at once
when a pool child dies (`task_reject_on_worker_lost`), after the visibility timeout when the whole
worker is gone. Every task has a soft and a hard time limit below that timeout.
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from shellwatch.config import Settings

PROCESS_ARTICLE = "workers.process_article"
DELIVER_ALERT = "workers.deliver_alert"
CRAWL_SOURCE = "workers.crawl_source"
WRITE_MONTHLY_DIGESTS = "workers.write_monthly_digests"
RETRY_FAILED_DELIVERIES = "workers.retry_failed_deliveries"
SEND_DUE_SUMMARIES = "workers.send_due_summaries"
FLUSH_SPOOL = "workers.flush_spool"

QUEUES = ("crawl", "analysis", "delivery")
QUEUE_OF_TASK = {
    PROCESS_ARTICLE: "analysis",
    DELIVER_ALERT: "delivery",
    CRAWL_SOURCE: "crawl",
    FLUSH_SPOOL: "crawl",
    WRITE_MONTHLY_DIGESTS: "delivery",
    RETRY_FAILED_DELIVERIES: "delivery",
    SEND_DUE_SUMMARIES: "delivery",
}

# Publishing gives up quickly: the hand-off spools to disk instead of stalling the crawler.
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.5}

# kombu's Redis transport keeps each queue in a list per priority step and unacked messages here.
_PRIORITY_SEPARATOR = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)  # step 0 is the bare queue name
UNACKED_KEY = "unacked"


def worker_command(
    celery: str, *, concurrency: int, loglevel: str, hostname: str | None = None, quiet: bool = False
) -> list[str]:
    """The `celery worker` command line of a worker process consuming every queue (tests, benchmarks
    and the end-to-end run start real workers this way); `quiet` drops gossip and mingle, which only
    slow the start of a single short-lived worker."""
    command = [celery, "-A", "workers.app", "worker", "--queues", ",".join(QUEUES), "--pool", "prefork"]
    command += ["--concurrency", str(concurrency), "--loglevel", loglevel]
    if hostname:
        command += ["--hostname", hostname]
    if quiet:
        command += ["--without-gossip", "--without-mingle"]
    return command


def queue_keys(queue: str) -> list[str]:
    """The Redis lists that hold a queue's waiting messages."""
    return [queue, *(f"{queue}{_PRIORITY_SEPARATOR}{step}" for step in _PRIORITY_STEPS)]


def create_app(settings: Settings) -> Celery:
    """A Celery app for these settings; REDIS_URL is required (embedded mode needs no broker)."""
    if not settings.redis_url:
        raise ValueError("REDIS_URL is not set: the Celery app needs Redis (embedded mode runs in-process)")
    app = Celery("shellwatch", set_as_current=False)
    app.shellwatch_settings = settings  # read by the task bodies (workers/tasks.py)
    hard_limit = settings.task_time_limit_seconds
    visibility = settings.visibility_timeout_seconds
    app.conf.update(
        broker_url=settings.redis_url,
        broker_transport_options={
            "visibility_timeout": visibility,
            # Sweep for abandoned messages often enough to honour a short visibility timeout.
            "unacked_restore_interval": max(1, min(10, int(visibility // 4))),
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": 3,
            "socket_timeout": 10,
            "health_check_interval": 10,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for Redis to come back, however long
        broker_connection_timeout=3,
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_time_limit=hard_limit,
        task_soft_time_limit=hard_limit * 0.9,
        # An interrupted task is redelivered when the connection to Redis is lost (it is idempotent).
        worker_cancel_long_running_tasks_on_connection_loss=True,
        # Pool children load the NLP pipelines at start; that may take longer than Celery's 4 s default.
        worker_proc_alive_timeout=120,
        task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
        task_default_queue="analysis",
        task_routes={name: {"queue": queue} for name, queue in QUEUE_OF_TASK.items()},
        task_publish_retry_policy=PUBLISH_RETRY_POLICY,
        worker_send_task_events=True,  # Flower
        task_send_sent_event=True,
        worker_hijack_root_logger=True,
        timezone="UTC",
        enable_utc=True,
        beat_scheduler="workers.beat:SourceScheduler",
        beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
        include=["workers.tasks"],
    )
    return app
