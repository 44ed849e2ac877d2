"""Errors the digest stage raises; the CLI and the API turn them into clear messages."""

from __future__ import annotations


class DigestError(Exception):
    """A digest cannot be produced: bad request (month, format, language) or no CJK font."""


class MonthError(DigestError, ValueError):
    """The month is malformed or lies in the future."""
