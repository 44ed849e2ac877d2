"""Render a Digest as Markdown, HTML, PDF, JSON or CSV (bytes, UTF-8 for the text formats).

Templates are data files in digests/templates/ (Jinja2). HTML is autoescaped, Markdown escapes
article text with `md_escape`, links are only made for http(s) URLs. The PDF is WeasyPrint's
rendering of the same HTML, with `lang` set so Chinese uses the simplified-Chinese glyph variants
and a font list naming the installed CJK font. Charts are PNGs embedded as data: URIs.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from digests.charts import incident_timeline_chart, weekly_allegations_chart
from digests.errors import DigestError
from digests.fonts import CJK_FAMILIES, LATIN_FAMILY, find_cjk_font, has_cjk, require_cjk_font
from digests.labels import labels_for
from digests.model import ClaimReport, CoverageItem, Digest, Figure, IncidentSummary
from shellwatch.domain import ClaimType, Language

FORMATS = ("md", "html", "pdf", "json", "csv")
MEDIA_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
}
SCHEMA_NAME = "shellwatch.digest/1"  # the "schema" field of every JSON digest; bump on breaking changes
SCHEMA_ID = "urn:shellwatch:schema:digest:1"


def render(digest: Digest, fmt: str) -> bytes:
    """The digest in one of FORMATS; raises DigestError for an unknown format."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise DigestError(f"unknown digest format {fmt!r}: use one of {', '.join(FORMATS)}")
    return renderer(digest)


def render_markdown(digest: Digest) -> bytes:
    return _environment(markdown=True).get_template("digest.md.j2").render(_context(digest)).encode("utf-8")


def render_html(digest: Digest) -> bytes:
    return _html(digest).encode("utf-8")


def render_pdf(digest: Digest) -> bytes:
    # WeasyPrint logs each of its steps (and its own stylesheets at import) at INFO; for us it is one.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    from weasyprint import HTML

    html = _html(digest)
    if has_cjk(html):
        require_cjk_font()  # WeasyPrint would silently draw empty boxes
    return HTML(string=html, base_url=None).write_pdf()


def render_json(digest: Digest) -> bytes:
    payload = {"schema": SCHEMA_NAME, **digest.model_dump(mode="json")}
    return (json.dumps(payload, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def render_csv(digest: Digest) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in csv_rows(digest):
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return buffer.getvalue().encode("utf-8")


def digest_json_schema() -> dict[str, Any]:
    """The JSON Schema of render_json's output (stored as digests/schema/digest.schema.json)."""
    schema = Digest.model_json_schema()
    schema["properties"] = {"schema": {"type": "string", "const": SCHEMA_NAME}, **schema["properties"]}
    schema["required"] = ["schema", *schema.get("required", [])]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


# CSV --------------------------------------------------------------------------------------------

# One row per record; `record` says which columns apply (see the README's digest section):
# figure / breakdown (metric, key, value, previous, change), incident, claim, coverage.
CSV_COLUMNS = [
    "record",
    "month",
    "lang",
    "metric",
    "key",
    "value",
    "previous",
    "change",
    "section",
    "incident_id",
    "incident_title",
    "incident_status",
    "role",
    "subject",
    "subject_name",
    "claim_type",
    "depth",
    "stance",
    "object_name",
    "speaker",
    "evidence",
    "confidence",
    "published_at",
    "source",
    "language",
    "title",
    "url",
]


def csv_rows(digest: Digest) -> Iterator[dict[str, Any]]:
    base = {"month": digest.month, "lang": digest.lang.value}
    headline = digest.headline
    for figure in (headline.new_incidents, headline.allegations, headline.responses, headline.articles):
        yield {**base, **_figure_row("figure", figure.key, figure)}
    for figure in headline.articles_by_language:
        yield {**base, **_figure_row("figure", "articles_by_language", figure)}
    for figure in headline.top_sources:
        yield {**base, **_figure_row("figure", "top_sources", figure)}
    for metric, rows in (
        ("claims_by_type", digest.claims_by_type),
        ("claims_by_stance", digest.claims_by_stance),
    ):
        for row in rows:
            yield {
                **base,
                "record": "breakdown",
                "metric": metric,
                "key": row.key,
                "value": row.count,
                "previous": row.previous,
                "change": row.change,
            }
    for entity in digest.accused_entities:
        yield {
            **base,
            "record": "breakdown",
            "metric": "accused_entities",
            "key": entity.id,
            "subject_name": entity.name,
            "value": entity.count,
        }
    for week in digest.allegations_by_week:
        for claim_type, count in week.counts.items():
            yield {
                **base,
                "record": "breakdown",
                "metric": "allegations_by_week",
                "key": week.week.isoformat(),
                "claim_type": claim_type,
                "value": count,
            }
    for section, incidents in (("new", digest.new_incidents), ("ongoing", digest.ongoing_incidents)):
        for incident in incidents:
            yield from _incident_rows(base, section, incident)


def _figure_row(record: str, metric: str, figure: Figure) -> dict[str, Any]:
    return {
        "record": record,
        "metric": metric,
        "key": figure.key,
        "value": figure.value,
        "previous": figure.previous,
        "change": figure.change,
    }


def _incident_rows(base: dict[str, Any], section: str, incident: IncidentSummary) -> Iterator[dict[str, Any]]:
    about = {
        **base,
        "section": section,
        "incident_id": incident.id,
        "incident_title": incident.title,
        "incident_status": incident.status.value,
    }
    yield {
        **about,
        "record": "incident",
        "subject": incident.subject,
        "subject_name": incident.subject_name,
        "claim_type": ";".join(t.value for t in incident.claim_types),
        "depth": incident.depth,
        "published_at": incident.started_at.isoformat(),
    }
    roles = [
        ("first_allegation", [incident.first_allegation] if incident.first_allegation else []),
        ("response", incident.responses),
        ("development", incident.developments),
    ]
    for role, reports in roles:
        for report in reports:
            yield {**about, "record": "claim", "role": role, **_claim_columns(report)}
    for item in incident.coverage:
        yield {**about, "record": "coverage", **_article_columns(item)}


def _claim_columns(report: ClaimReport) -> dict[str, Any]:
    return {
        "subject": report.subject,
        "subject_name": report.subject_name,
        "claim_type": report.type.value,
        "depth": report.depth,
        "stance": report.stance.value,
        "object_name": report.object_name,
        "speaker": report.speaker,
        "evidence": report.evidence,
        "confidence": report.confidence,
        **_article_columns(report.article),
    }


def _article_columns(item: CoverageItem) -> dict[str, Any]:
    return {
        "published_at": item.published_at.isoformat(),
        "source": item.source,
        "language": item.language.value,
        "title": item.title,
        "url": item.url,
    }


def _cell(value: Any) -> Any:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe (OWASP)."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# HTML and Markdown -----------------------------------------------------------------------------


def _html(digest: Digest) -> str:
    context = _context(digest)
    context["charts"] = {
        "weekly": _data_uri(weekly_allegations_chart(digest)),
        "timeline": _data_uri(incident_timeline_chart(digest)),
    }
    context["html_lang"] = _html_lang(digest.lang)
    context["font_stack"] = Markup(_font_stack(digest.lang))
    context["css"] = Markup(_read_template("digest.css"))
    return _environment(markdown=False).get_template("digest.html.j2").render(context)


def _context(digest: Digest) -> dict[str, Any]:
    labels = labels_for(digest.lang)
    headline = digest.headline
    figures = [
        (labels["new_incidents"], headline.new_incidents),
        (labels["allegations"], headline.allegations),
        (labels["responses"], headline.responses),
        (labels["articles"], headline.articles),
    ] + [
        (labels["articles_in"].format(language=labels["languages"][f.key]), f)
        for f in headline.articles_by_language
    ]
    week_types = [
        t.value for t in ClaimType if any(w.counts.get(t.value) for w in digest.allegations_by_week)
    ]
    return {
        "d": digest,
        "L": labels,
        "figures": figures,
        "week_types": week_types,
        "generated": digest.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        "last_day": (digest.end - timedelta(days=1)).isoformat(),
        "today": digest.generated_at.astimezone(UTC).date().isoformat(),
    }


def _font_stack(lang: Language) -> str:
    """Latin first for English (CJK falls back per glyph); the CJK font first for Chinese."""
    found = find_cjk_font()
    cjk = [found.family] if found else []
    cjk += [family for family in CJK_FAMILIES if family not in cjk]
    ordered = [*cjk, LATIN_FAMILY] if lang is Language.ZH else [LATIN_FAMILY, *cjk]
    return ", ".join(f'"{family}"' for family in ordered) + ", sans-serif"


def _html_lang(language: Language | str) -> str:
    return "zh-CN" if Language(language) is Language.ZH else "en"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@cache
def _environment(*, markdown: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("digests", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False)
        if not markdown
        else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        signed=lambda n: f"{n:+d}" if n else "±0",
        html_lang=_html_lang,
        by_language=_by_language,
    )
    if markdown:
        env.filters.update(md=md_escape, quote=_md_quote, outlet=_md_outlet, md_link=_md_link)
    else:
        env.filters.update(outlet_link=_html_outlet, article_link=_html_link)
    return env


def _read_template(name: str) -> str:
    return resources.files("digests").joinpath("templates", name).read_text(encoding="utf-8")


def _by_language(items: list[CoverageItem]) -> list[tuple[str, list[CoverageItem]]]:
    """Coverage grouped by language, Chinese first (where these stories usually break)."""
    return [(lang.value, group) for lang in Language if (group := [i for i in items if i.language is lang])]


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def md_escape(text: Any) -> str:
    """Article text as literal Markdown: punctuation backslash-escaped, line breaks folded."""
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s+", " ", str(text)).strip())


def _safe_url(url: str) -> str | None:
    return url if re.match(r"https?://", url, re.IGNORECASE) and not re.search(r"[\s<>]", url) else None


def _md_link(item: CoverageItem) -> str:
    url = _safe_url(item.url)
    title = md_escape(item.title) or md_escape(item.url)
    return f"[{title}](<{url}>)" if url else title


def _md_outlet(report: ClaimReport) -> str:
    url = _safe_url(report.article.url)
    source = md_escape(report.article.source)
    return f"[{source}](<{url}>)" if url else source


def _md_quote(report_evidence: str) -> str:
    return "> " + md_escape(report_evidence)


def _html_link(item: CoverageItem) -> Markup:
    url = _safe_url(item.url)
    title = escape(item.title or item.url)
    lang = _html_lang(item.language)
    if url is None:
        return Markup('<span lang="{}">{}</span>').format(lang, title)
    return Markup('<a href="{}" lang="{}">{}</a>').format(url, lang, title)


def _html_outlet(report: ClaimReport) -> Markup:
    url = _safe_url(report.article.url)
    if url is None:
        return escape(report.article.source)
    return Markup('<a href="{}" title="{}">{}</a>').format(url, report.article.title, report.article.source)


_RENDERERS: dict[str, Callable[[Digest], bytes]] = {
    "md": render_markdown,
    "html": render_html,
    "pdf": render_pdf,
    "json": render_json,
    "csv": render_csv,
}
