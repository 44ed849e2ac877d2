"""The one place a Redis client is built from the settings (metrics, crash guard, queue depth)."""

from __future__ import annotations

import redis

from shellwatch.config import Settings


def get_redis(settings: Settings) -> redis.Redis:
    """A client on REDIS_URL with short timeouts: bookkeeping must never hang a task."""
    if not settings.redis_url:
        raise ValueError("REDIS_URL is not set; Redis is only used in multi-service mode")
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
        decode_responses=True,
    )
