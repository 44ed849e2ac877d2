"""workers: the hand-off from the crawler and the pipeline that turns articles into alerts.

`handoff.submit_article` is the crawler's entry; `pipeline.process_article` is the plain function
every mode runs; `application` configures Celery on Redis (multi-service mode), `tasks` holds the
thin task bodies, `beat` the periodic schedule, `spool` the on-disk buffer for a broker outage,
`metrics` the counters rendered at `/metrics`.
"""
