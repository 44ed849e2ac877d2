"""The interface language (English / 中文) and its labels (web/labels.yaml).

The language comes from `?lang=` (which also sets a cookie), then the cookie, then the browser's
Accept-Language; anything else falls back to English.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from starlette.requests import Request

LANGUAGES = ("en", "zh")
LANG_COOKIE = "sw_lang"
LABELS_FILE = Path(__file__).resolve().parent / "labels.yaml"


def request_language(request: Request) -> str:
    """The interface language this request asks for."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    accept = request.headers.get("accept-language", "").lower()
    first = accept.split(",")[0].strip()
    return "zh" if first.startswith("zh") else "en"


class Translator:
    """`t("key")` for interface strings, `t.claim_type(value)` and friends for the vocabulary."""

    def __init__(self, language: str):
        self.language = language if language in LANGUAGES else "en"

    def __call__(self, key: str) -> str:
        return _pick(labels()["ui"].get(key), self.language, key)

    def claim_type(self, value: object) -> str:
        return self._section("claim_types", value)

    def stance(self, value: object) -> str:
        return self._section("stances", value)

    def status(self, value: object) -> str:
        return self._section("statuses", value)

    def language_name(self, value: object) -> str:
        return self._section("languages", value)

    def entity_type(self, value: object) -> str:
        return self._section("entity_types", value)

    def frequency(self, value: object) -> str:
        return self._section("frequencies", value)

    def _section(self, section: str, value: object) -> str:
        key = str(getattr(value, "value", value))
        return _pick(labels()[section].get(key), self.language, key)


def _pick(entry: dict[str, str] | None, language: str, fallback: str) -> str:
    if not entry:
        return fallback
    return entry.get(language) or entry.get("en") or fallback


@cache
def labels() -> dict[str, dict[str, dict[str, str]]]:
    return yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))
