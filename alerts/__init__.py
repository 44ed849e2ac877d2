"""Alerts: subscriptions on new allegations, delivered by webhook (JSON or Slack), e-mail and Atom feed.

Entry points:
- `alerts.subscriptions`: `create_subscription(settings, store, kb, SubscriptionRequest)`,
  `set_paused`, `delete_subscription`, `unsubscribe` (the e-mail link).
- `alerts.dispatch.plan_alerts(store, analysed, assignment, kb)`: the alerts an article raises,
  recorded exactly once.
- `alerts.delivery`: `deliver_alert` (one alert, the `delivery` task), `deliver_alerts` (several,
  in parallel), `retry_failed_deliveries` (beat), `channel_statuses`, `test_deliver`.
- `alerts.summaries.send_due_summaries(settings, store, now)` (beat).
- `alerts.feed.render_feed(store, subscription_id, token, settings)`.
"""
