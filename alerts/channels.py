"""Channel identity: the key a delivery state is stored under, and a channel's display label."""

from __future__ import annotations

from shellwatch.domain import Channel, ChannelKind, Subscription

WEBHOOK_FORMATS = ("json", "slack")


def channel_key(channel: Channel) -> str:
    """`webhook:<url>`, `email:<address>` or `feed`: unique within one subscription."""
    if channel.kind is ChannelKind.FEED:
        return "feed"
    return f"{channel.kind.value}:{channel.target}"


def channel_label(channel: Channel) -> str:
    if channel.kind is ChannelKind.WEBHOOK and channel.format != "json":
        return f"{channel_key(channel)} ({channel.format})"
    return channel_key(channel)


def find_channel(subscription: Subscription, key: str) -> Channel | None:
    return next((channel for channel in subscription.channels if channel_key(channel) == key), None)
